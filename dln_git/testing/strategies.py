"""Hypothesis strategies for deep linear networks.

Every strategy here is built *constructively*: matrices are products of Haar-random
orthonormal (unitary) factors and bounded spectra, and width patterns are assembled from
bounded integer draws, so nothing is ever rejected (no ``assume``, no rejecting ``.filter``).
The orthonormal factors come from an integer seed drawn by Hypothesis and fed to
``numpy.random.default_rng``; the singular values are drawn by Hypothesis itself as bounded
floats, so shrinking acts on the quantities that matter (widths, spectra, scale factors).

Conventions (see ``MATH.md``, section 1): widths ``d = (d_0, ..., d_N)`` are a tuple of positive
ints with depth ``N >= 1``; weights ``W = (W_1, ..., W_N)`` are a tuple of ``float64`` (or
``complex128``) arrays, ``W_i`` of shape ``(d_i, d_{i-1})``; Lie algebra elements
``xi = (xi_1, ..., xi_{N-1})`` and gauge elements ``g = (g_1, ..., g_{N-1})`` are tuples of square
``d_i x d_i`` arrays, one per hidden layer (empty tuples when ``N = 1``). ``^*`` is the conjugate
transpose.

Wherever a strategy takes ``widths`` it accepts either a fixed tuple (validated at once) or a
Hypothesis strategy of tuples (combined with ``flatmap``).

Examples
--------
>>> import numpy as np
>>> from hypothesis import given, settings
>>> from hypothesis import strategies as st
>>> from dln_git.testing import strategies as dst
>>> @settings(max_examples=20, deadline=None)
... @given(dst.balanced_weights(dst.widths(patterns=("equal", "wide")), cond=100.0))
... def test_balanced(W):
...     for A, B in zip(W[:-1], W[1:]):
...         assert np.allclose(A @ A.conj().T, B.conj().T @ B)
>>> test_balanced()

Pairing weights with a matching gauge element:

>>> pair = dst.widths(max_depth=3).flatmap(
...     lambda d: st.tuples(dst.weights(d), dst.gauge_elements(d)))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from ..core.weights import haar_orthonormal as _core_haar

__all__ = [
    "PATTERNS",
    "balanced_weights",
    "balanced_weights_with_end_to_end",
    "degenerate_weights",
    "end_to_end_matrices",
    "gauge_elements",
    "haar_orthonormal",
    "lie_algebra_elements",
    "rescaled_weights",
    "spectra",
    "unbalanced_weights",
    "weights",
    "widths",
]

#: The width patterns understood by :func:`widths`.
PATTERNS: tuple[str, ...] = ("equal", "wide", "bottleneck", "funnel", "any")

_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)

WidthsLike = Sequence[int] | st.SearchStrategy


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if not _is_int(value):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_cond(cond: Any) -> float:
    try:
        cond = float(cond)
    except (TypeError, ValueError):
        raise ValueError(f"cond must be a real number >= 1, got {cond!r}") from None
    if not (math.isfinite(cond) and cond >= 1.0):
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    return cond


def _check_scale(scale: Any, *, allow_zero: bool = False) -> float:
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a real number, got {scale!r}") from None
    ok = math.isfinite(scale) and (scale >= 0.0 if allow_zero else scale > 0.0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"scale must be finite and {bound}, got {scale!r}")
    return scale


def _check_widths(widths: Any) -> tuple[int, ...]:
    bad_array = isinstance(widths, np.ndarray) and widths.ndim != 1
    if bad_array or isinstance(widths, st.SearchStrategy | str | bytes):
        raise ValueError(f"widths must be a tuple of positive ints, got {widths!r}")
    try:
        d = tuple(widths)
    except TypeError:
        raise ValueError(f"widths must be a tuple of positive ints, got {widths!r}") from None
    if len(d) < 2:
        raise ValueError(f"widths must have length N + 1 >= 2 (depth N >= 1), got {d!r}")
    for i, di in enumerate(d):
        if not _is_int(di) or int(di) < 1:
            raise ValueError(f"widths must be positive ints, got d_{i} = {di!r} in {d!r}")
    return tuple(int(di) for di in d)


def _with_widths(
    widths: WidthsLike, build: Callable[[tuple[int, ...]], st.SearchStrategy]
) -> st.SearchStrategy:
    """Apply ``build`` to a fixed widths tuple, or flatmap it over a strategy of widths."""
    if isinstance(widths, st.SearchStrategy):
        return widths.flatmap(lambda d: build(_check_widths(d)))
    return build(_check_widths(widths))


def _dtype(is_complex: bool) -> type:
    return np.complex128 if is_complex else np.float64


# ---------------------------------------------------------------------------------------------
# Random orthonormal factors
# ---------------------------------------------------------------------------------------------


def haar_orthonormal(
    rng: np.random.Generator | int | None, n: int, k: int, complex: bool = False
) -> np.ndarray:
    """Haar-random ``n x k`` matrix with orthonormal columns (:func:`dln_git.haar_orthonormal`, rng first).

    The QR factorisation of a Gaussian matrix, with the phases of ``R``'s diagonal moved into
    ``Q`` (the "sign fix") so that the distribution is exactly Haar on the Stiefel manifold.

    Parameters
    ----------
    rng : numpy.random.Generator or int or None
        Source of randomness; an int (or None) is passed to ``numpy.random.default_rng``.
    n, k : int
        Shape of the result, ``0 <= k <= n``.
    complex : bool, default False
        Unitary columns (``complex128``) instead of real orthonormal ones (``float64``).

    Returns
    -------
    numpy.ndarray
        ``Q`` of shape ``(n, k)`` with ``Q^* Q = I_k``.

    Raises
    ------
    ValueError
        If ``k > n`` or either is negative.
    """
    n = _check_int("n", n, 0)
    k = _check_int("k", k, 0)
    if k > n:
        raise ValueError(f"cannot have k = {k} orthonormal columns in dimension n = {n}")
    return _core_haar(n, k, np.random.default_rng(rng), complex=complex)


def _svd_product(U: np.ndarray, s: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``U diag(s) V^*`` (with ``s`` of length ``U.shape[1] == V.shape[1]``)."""
    return (U * s[np.newaxis, :]) @ V.conj().T


# ---------------------------------------------------------------------------------------------
# Widths
# ---------------------------------------------------------------------------------------------


def _feasibility(pattern: str, min_depth: int, max_depth: int, lo: int, hi: int) -> tuple[int, int] | str:
    """Depth range for ``pattern`` within the bounds, or a reason it is impossible."""
    if pattern in ("equal", "any"):
        return (min_depth, max_depth)
    n_lo = max(min_depth, 2)
    if n_lo > max_depth:
        return f"{pattern!r} needs depth >= 2 (a hidden layer), but max_depth = {max_depth}"
    if pattern == "wide":
        return (n_lo, max_depth)
    if pattern == "bottleneck":
        if max(lo + 1, 2) > hi:
            return (
                "'bottleneck' needs end widths >= 2 and a hidden width below them, "
                f"impossible with widths in [{lo}, {hi}]"
            )
        return (n_lo, max_depth)
    if pattern == "funnel":
        n_hi = min(max_depth, hi - lo)
        if n_lo > n_hi:
            return (
                f"'funnel' needs N + 1 >= {n_lo + 1} distinct widths in [{lo}, {hi}] "
                f"with depth in [{min_depth}, {max_depth}]"
            )
        return (n_lo, n_hi)
    raise ValueError(f"unknown width pattern {pattern!r}; known patterns: {PATTERNS}")


@st.composite
def _equal_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    w = draw(st.integers(lo, hi))
    return (w,) * (N + 1)


@st.composite
def _any_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    return tuple(draw(st.integers(lo, hi)) for _ in range(N + 1))


@st.composite
def _wide_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    # Keep the ends below the maximum so that some hidden layer can be strictly wider.
    end_hi = hi - 1 if lo < hi else hi
    d0 = draw(st.integers(lo, end_hi))
    dN = draw(st.integers(lo, end_hi))
    m = max(d0, dN)
    j = draw(st.integers(0, N - 2)) if m < hi else -1
    hidden = [draw(st.integers(m + 1 if k == j else m, hi)) for k in range(N - 1)]
    return (d0, *hidden, dN)


@st.composite
def _bottleneck_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    end_lo = max(lo + 1, 2)
    d0 = draw(st.integers(end_lo, hi))
    dN = draw(st.integers(end_lo, hi))
    m = min(d0, dN)
    j = draw(st.integers(0, N - 2))
    hidden = [draw(st.integers(lo, m - 1) if k == j else st.integers(lo, hi)) for k in range(N - 1)]
    return (d0, *hidden, dN)


@st.composite
def _funnel_widths(draw, n_lo: int, n_hi: int, lo: int, hi: int) -> tuple[int, ...]:
    N = draw(st.integers(n_lo, n_hi))
    # Strictly increasing v_0 < ... < v_N in [lo, hi], each bounded so the rest still fit.
    v = [draw(st.integers(lo, hi - N))]
    for k in range(1, N + 1):
        v.append(draw(st.integers(v[-1] + 1, hi - (N - k))))
    widening = draw(st.booleans())
    return tuple(v) if widening else tuple(reversed(v))


_PATTERN_BUILDERS = {
    "equal": _equal_widths,
    "any": _any_widths,
    "wide": _wide_widths,
    "bottleneck": _bottleneck_widths,
    "funnel": _funnel_widths,
}


def widths(
    *,
    min_depth: int = 1,
    max_depth: int = 4,
    min_width: int = 1,
    max_width: int = 5,
    patterns: Sequence[str] | str = PATTERNS,
) -> st.SearchStrategy[tuple[int, ...]]:
    """Width tuples ``d = (d_0, ..., d_N)`` following a chosen pattern.

    A pattern name is drawn first (shrinking towards the first listed), then widths of that
    kind are built directly:

    ``"equal"``
        All widths the same.
    ``"wide"``
        Every hidden width ``>= max(d_0, d_N)``, and one strictly larger whenever the bounds
        allow it (``min_width < max_width``); that layer is a *stabiliser* layer (excess width).
    ``"bottleneck"``
        ``d_0, d_N >= 2`` and some hidden width ``< min(d_0, d_N)``.
    ``"funnel"``
        A strictly monotone sequence of length ``>= 3``, narrowing or widening, e.g.
        ``(3, 2, 1)``, ``(1, 2, 3)``, ``(4, 3, 2)``; every hidden layer is a funnel layer.
    ``"any"``
        Independent widths.

    Only ``"equal"`` and ``"any"`` produce depth 1 (the others need a hidden layer).

    Parameters
    ----------
    min_depth, max_depth : int
        Bounds on the depth ``N = len(d) - 1``, ``1 <= min_depth <= max_depth``.
    min_width, max_width : int
        Bounds on every width, ``1 <= min_width <= max_width``.
    patterns : sequence of str or str
        Patterns to draw from (a subset of :data:`PATTERNS`). Patterns that cannot be built
        within the bounds (e.g. ``"funnel"`` with ``max_depth = 1``) are skipped.

    Returns
    -------
    SearchStrategy[tuple[int, ...]]

    Raises
    ------
    ValueError
        For invalid bounds, an unknown pattern, or when none of the requested patterns can be
        built within the bounds.
    """
    min_depth = _check_int("min_depth", min_depth, 1)
    max_depth = _check_int("max_depth", max_depth, 1)
    min_width = _check_int("min_width", min_width, 1)
    max_width = _check_int("max_width", max_width, 1)
    if min_depth > max_depth:
        raise ValueError(f"min_depth = {min_depth} > max_depth = {max_depth}")
    if min_width > max_width:
        raise ValueError(f"min_width = {min_width} > max_width = {max_width}")
    if isinstance(patterns, str):
        patterns = (patterns,)
    patterns = tuple(dict.fromkeys(patterns))  # de-duplicate, keep order
    if not patterns:
        raise ValueError("patterns must not be empty")
    for p in patterns:
        if p not in _PATTERN_BUILDERS:
            raise ValueError(f"unknown width pattern {p!r}; known patterns: {PATTERNS}")

    branches = []
    reasons = []
    for p in patterns:
        feas = _feasibility(p, min_depth, max_depth, min_width, max_width)
        if isinstance(feas, str):
            reasons.append(feas)
        else:
            branches.append(_PATTERN_BUILDERS[p](feas[0], feas[1], min_width, max_width))
    if not branches:
        raise ValueError("no requested width pattern can be built within the bounds: " + "; ".join(reasons))
    return st.one_of(branches)


# ---------------------------------------------------------------------------------------------
# Spectra and matrices
# ---------------------------------------------------------------------------------------------


def _spectrum_bounds(cond: float, scale: float) -> tuple[float, float]:
    root = math.sqrt(cond)
    lo = scale / root
    hi = scale * root
    # Guard against rounding so that hi / lo <= cond holds in floating point as well.
    while hi / lo > cond:
        hi = math.nextafter(hi, 0.0)
    return lo, hi


def spectra(n: int, *, cond: float = 10.0, scale: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """``n`` singular values in ``[scale / sqrt(cond), scale * sqrt(cond)]``, sorted descending.

    Each value is an independent bounded float drawn by Hypothesis (so shrinking is
    meaningful). The interval's endpoints are not forced into the sample, so ``cond`` is an
    *upper bound* on ``max / min``, not its exact value.

    Parameters
    ----------
    n : int
        Number of values, ``n >= 0`` (``n = 0`` gives an empty array).
    cond : float, default 10.0
        Bound on the ratio of the largest to the smallest value, ``cond >= 1`` (1 gives
        ``n`` copies of ``scale``).
    scale : float, default 1.0
        Geometric centre of the interval, ``> 0``.

    Returns
    -------
    SearchStrategy[numpy.ndarray]
        ``float64`` arrays of shape ``(n,)``, positive, non-increasing.
    """
    n = _check_int("n", n, 0)
    cond = _check_cond(cond)
    scale = _check_scale(scale)
    lo, hi = _spectrum_bounds(cond, scale)
    values = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    return st.lists(values, min_size=n, max_size=n).map(
        lambda s: np.array(sorted(s, reverse=True), dtype=np.float64).reshape(n)
    )


def weights(
    widths: WidthsLike,
    *,
    cond: float = 10.0,
    complex: bool = False,
    scale: float = 1.0,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Weights ``W = (W_1, ..., W_N)`` with well-conditioned layers.

    ``W_i = U_i diag(s_i) V_i^*`` with ``U_i`` (``d_i x k_i``) and ``V_i`` (``d_{i-1} x k_i``)
    Haar orthonormal, ``k_i = min(d_i, d_{i-1})``, and ``s_i`` drawn by :func:`spectra`; so every
    layer has full rank ``k_i`` and condition number (largest over smallest of its ``k_i``
    singular values) at most ``cond``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``.
    cond : float, default 10.0
        Bound on each layer's condition number, ``>= 1``.
    complex : bool, default False
        Unitary factors and ``complex128`` arrays instead of ``float64``.
    scale : float, default 1.0
        Singular values lie in ``[scale / sqrt(cond), scale * sqrt(cond)]``.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]
        Tuples of N arrays, ``W_i`` of shape ``(d_i, d_{i-1})``.
    """
    cond = _check_cond(cond)
    scale = _check_scale(scale)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        @st.composite
        def _weights(draw) -> tuple[np.ndarray, ...]:
            seed = draw(_SEEDS)
            svals = [draw(spectra(min(d[i], d[i - 1]), cond=cond, scale=scale)) for i in range(1, len(d))]
            rng = np.random.default_rng(seed)
            out = []
            for i in range(1, len(d)):
                k = min(d[i], d[i - 1])
                U = haar_orthonormal(rng, d[i], k, complex)
                V = haar_orthonormal(rng, d[i - 1], k, complex)
                out.append(_svd_product(U, svals[i - 1], V).astype(_dtype(complex), copy=False))
            return tuple(out)

        return _weights()

    return _with_widths(widths, build)


def gauge_elements(
    widths: WidthsLike, *, cond: float = 10.0, complex: bool = False
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Gauge group elements ``g = (g_1, ..., g_{N-1})``, ``g_i`` invertible ``d_i x d_i``.

    ``g_i = U_i diag(s_i) V_i^*`` with ``U_i, V_i`` Haar orthogonal (unitary) and ``s_i`` drawn by
    :func:`spectra` with ``scale = 1``: singular values in ``[1/sqrt(cond), sqrt(cond)]`` (around 1),
    so ``cond(g_i) <= cond``. Empty tuple when ``N = 1``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; only the hidden widths ``d_1..d_{N-1}`` are used.
    cond : float, default 10.0
        Bound on each ``cond(g_i)``, ``>= 1`` (``cond = 1`` gives orthogonal/unitary elements,
        i.e. the compact subgroup K).
    complex : bool, default False
        ``complex128`` elements of ``GL(d_i, C)`` instead of ``float64`` ones of ``GL(d_i, R)``.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]
    """
    cond = _check_cond(cond)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        hidden = d[1:-1]

        @st.composite
        def _gauge(draw) -> tuple[np.ndarray, ...]:
            seed = draw(_SEEDS)
            svals = [draw(spectra(n, cond=cond, scale=1.0)) for n in hidden]
            rng = np.random.default_rng(seed)
            out = []
            for n, s in zip(hidden, svals, strict=True):
                U = haar_orthonormal(rng, n, n, complex)
                V = haar_orthonormal(rng, n, n, complex)
                out.append(_svd_product(U, s, V).astype(_dtype(complex), copy=False))
            return tuple(out)

        return _gauge()

    return _with_widths(widths, build)


def lie_algebra_elements(
    widths: WidthsLike,
    *,
    scale: float = 1.0,
    complex: bool = False,
    hermitian: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Lie algebra elements ``xi = (xi_1, ..., xi_{N-1})``, ``xi_i`` square of size ``d_i``.

    A seed and one factor ``t_i in [0, scale]`` per hidden layer are drawn; ``xi_i = t_i M_i`` with
    ``M_i`` having independent entries uniform in ``[-1, 1]`` (complex: real and imaginary parts
    uniform in ``[-1/sqrt 2, 1/sqrt 2]``), so every entry has modulus ``<= scale``. Shrinking
    sends the factors to 0 (the zero element). Empty tuple when ``N = 1``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; only the hidden widths are used.
    scale : float, default 1.0
        Bound on the modulus of every entry, ``>= 0``.
    complex : bool, default False
        ``complex128`` instead of ``float64``.
    hermitian : bool, default False
        Return ``(M + M^*)/2`` (real symmetric in the real case); entries stay bounded by
        ``scale``.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]
    """
    scale = _check_scale(scale, allow_zero=True)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        hidden = d[1:-1]

        @st.composite
        def _lie(draw) -> tuple[np.ndarray, ...]:
            seed = draw(_SEEDS)
            factors = [draw(st.floats(0.0, scale, allow_nan=False, allow_infinity=False)) for _ in hidden]
            rng = np.random.default_rng(seed)
            out = []
            for n, t in zip(hidden, factors, strict=True):
                if complex:
                    bound = 1.0 / np.sqrt(2.0)
                    M = rng.uniform(-bound, bound, (n, n)) + 1j * rng.uniform(-bound, bound, (n, n))
                else:
                    M = rng.uniform(-1.0, 1.0, (n, n))
                if hermitian:
                    M = 0.5 * (M + M.conj().T)
                out.append(np.ascontiguousarray(t * M, dtype=_dtype(complex)))
            return tuple(out)

        return _lie()

    return _with_widths(widths, build)


def end_to_end_matrices(
    shape: tuple[int, int] | st.SearchStrategy,
    *,
    rank: int | None = None,
    cond: float = 10.0,
    complex: bool = False,
    scale: float = 1.0,
) -> st.SearchStrategy[np.ndarray]:
    """End-to-end matrices ``X = U diag(s) V^*`` of a given shape and exact rank.

    ``U`` (``m x r``) and ``V`` (``n x r``) are Haar orthonormal and the ``r`` nonzero singular values
    ``s`` are drawn by :func:`spectra` in ``[scale / sqrt(cond), scale * sqrt(cond)]``.

    Parameters
    ----------
    shape : tuple (m, n) or SearchStrategy of such tuples
        ``(d_N, d_0)``, positive ints.
    rank : int or None, default None
        Exact rank ``r``, ``0 <= r <= min(shape)``; None means ``min(shape)`` (full rank);
        0 gives the zero matrix.
    cond : float, default 10.0
        Bound on the ratio of the largest to the smallest nonzero singular value.
    complex : bool, default False
        ``complex128`` instead of ``float64``.
    scale : float, default 1.0
        Geometric centre of the singular value interval.

    Returns
    -------
    SearchStrategy[numpy.ndarray]

    Raises
    ------
    ValueError
        If ``rank > min(shape)`` (for a fixed shape: at once; for a strategy: when drawn).
    """
    cond = _check_cond(cond)
    scale = _check_scale(scale)
    if rank is not None:
        rank = _check_int("rank", rank, 0)

    def build(shp: Any) -> st.SearchStrategy:
        try:
            m, n = shp
        except (TypeError, ValueError):
            raise ValueError(f"shape must be a pair (d_N, d_0), got {shp!r}") from None
        m = _check_int("shape[0]", m, 1)
        n = _check_int("shape[1]", n, 1)
        r = min(m, n) if rank is None else rank
        if r > min(m, n):
            raise ValueError(f"rank = {r} exceeds min(shape) = {min(m, n)} for shape {(m, n)}")

        @st.composite
        def _x(draw) -> np.ndarray:
            seed = draw(_SEEDS)
            s = draw(spectra(r, cond=cond, scale=scale))
            rng = np.random.default_rng(seed)
            U = haar_orthonormal(rng, m, r, complex)
            V = haar_orthonormal(rng, n, r, complex)
            return np.ascontiguousarray(_svd_product(U, s, V), dtype=_dtype(complex))

        return _x()

    if isinstance(shape, st.SearchStrategy):
        return shape.flatmap(build)
    return build(shape)


def balanced_weights_with_end_to_end(
    widths: WidthsLike,
    *,
    rank: int | None = None,
    cond: float = 10.0,
    complex: bool = False,
    scale: float = 1.0,
) -> st.SearchStrategy[tuple[tuple[np.ndarray, ...], np.ndarray]]:
    """Balanced weights together with their end-to-end matrix, ``(W, X)``.

    Built from the SVD chart (MATH.md, section 2), independently of any balancing code:
    ``X = U S V^*`` of rank ``r``, ``W_1 = Q_1 S^{1/N} V^*``, ``W_i = Q_i S^{1/N} Q_{i-1}^*``,
    ``W_N = U S^{1/N} Q_{N-1}^*`` with ``U, V, Q_i`` Haar matrices with ``r`` orthonormal columns.
    Then ``W_i W_i^* = Q_i S^{2/N} Q_i^* = W_{i+1}^* W_{i+1}`` (``mu(W) = 0``),
    ``R(W) = (N/2) sum_k s_k^{2/N}`` is the minimum of R over the fiber of X, and
    ``W_N ... W_1 = X`` up to rounding. ``X`` is returned as assembled from its own factors,
    not as the product of the weights.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; every hidden width must be ``>= r``.
    rank : int or None, default None
        Rank ``r`` of X, ``0 <= r <= min(d_0, d_N)``; None means ``min(widths)``.
    cond : float, default 10.0
        Bound on ``cond(X)`` (over its nonzero singular values); each layer's nonzero singular
        values then have ratio ``<= cond^{1/N}``.
    complex : bool, default False
        ``complex128`` instead of ``float64``.
    scale : float, default 1.0
        Geometric centre of the interval of X's singular values.

    Returns
    -------
    SearchStrategy[tuple[tuple[numpy.ndarray, ...], numpy.ndarray]]

    Raises
    ------
    ValueError
        If ``r > min(d_0, d_N)`` or some hidden width is ``< r`` (naming the layer).
    """
    cond = _check_cond(cond)
    scale = _check_scale(scale)
    if rank is not None:
        rank = _check_int("rank", rank, 0)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        N = len(d) - 1
        r = min(d) if rank is None else rank
        if r > min(d[0], d[-1]):
            raise ValueError(f"rank = {r} exceeds min(d_0, d_N) = {min(d[0], d[-1])} for widths {d}")
        for i in range(1, N):
            if d[i] < r:
                raise ValueError(
                    f"hidden layer {i} has width d_{i} = {d[i]} < rank {r} (widths {d}): "
                    "the SVD chart needs every hidden width >= rank"
                )

        @st.composite
        def _balanced(draw) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
            seed = draw(_SEEDS)
            s = draw(spectra(r, cond=cond, scale=scale))
            rng = np.random.default_rng(seed)
            dt = _dtype(complex)
            U = haar_orthonormal(rng, d[-1], r, complex)
            V = haar_orthonormal(rng, d[0], r, complex)
            Q = [V] + [haar_orthonormal(rng, d[i], r, complex) for i in range(1, N)] + [U]
            root = s ** (1.0 / N)
            W = tuple(
                np.ascontiguousarray(_svd_product(Q[i], root, Q[i - 1]), dtype=dt) for i in range(1, N + 1)
            )
            X = np.ascontiguousarray(_svd_product(U, s, V), dtype=dt)
            return W, X

        return _balanced()

    return _with_widths(widths, build)


def balanced_weights(
    widths: WidthsLike,
    *,
    rank: int | None = None,
    cond: float = 10.0,
    complex: bool = False,
    scale: float = 1.0,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Balanced weights (``mu(W) = 0``) from the SVD chart.

    The weights part of :func:`balanced_weights_with_end_to_end`; see there for the
    construction. The end-to-end map has rank exactly ``r`` (``rank``, or ``min(widths)``) and
    nonzero singular values in ``[scale / sqrt(cond), scale * sqrt(cond)]``.

    Parameters
    ----------
    widths : tuple of int or SearchStrategy of tuples
        ``(d_0, ..., d_N)``; every hidden width must be ``>= r``.
    rank : int or None, default None
        Rank of the end-to-end map, ``0 <= r <= min(d_0, d_N)``; None means ``min(widths)``.
    cond : float, default 10.0
        Bound on the condition number of the end-to-end map (over its nonzero singular values).
    complex : bool, default False
        ``complex128`` instead of ``float64``.
    scale : float, default 1.0
        Geometric centre of the interval of the end-to-end singular values.

    Returns
    -------
    SearchStrategy[tuple[numpy.ndarray, ...]]

    Raises
    ------
    ValueError
        If ``r > min(d_0, d_N)`` or some hidden width is ``< r`` (naming the layer).
    """
    return balanced_weights_with_end_to_end(widths, rank=rank, cond=cond, complex=complex, scale=scale).map(
        lambda pair: pair[0]
    )


# ---------------------------------------------------------------------------------------------
# Hard inputs: degenerate, rescaled and unbalanced weights
# ---------------------------------------------------------------------------------------------

#: The kinds of degenerate weights drawn by :func:`degenerate_weights`.
DEGENERACIES: tuple[str, ...] = ("zero_layer", "zero_product", "rank_one", "tiny", "huge")


def rescaled_weights(
    widths: WidthsLike,
    *,
    min_exponent: int = -150,
    max_exponent: int = 150,
    cond: float = 10.0,
    complex: bool = False,
) -> st.SearchStrategy[tuple[tuple[np.ndarray, ...], float]]:
    """Pairs ``(c W, c)``: well-conditioned weights times ``c = 10^k``, ``k`` an integer in range.

    Every function of dln-git is homogeneous in ``W`` (``mu(cW) = c^2 mu(W)``,
    ``X(cW) = c^N X(W)``, projections at ``cW`` equal those at ``W``), so ``c`` lets a test compare
    the answer at ``c W`` with the rescaled answer at ``W``. The exponent range defaults to
    ``[-150, 150]``: ``c^2`` stays representable in float64, ``c^N`` may not for deep networks
    (a function that needs ``X`` must then raise a clear error).
    """
    lo = _check_int("min_exponent", min_exponent, -300)
    hi = _check_int("max_exponent", max_exponent, lo)
    if hi > 300:
        raise ValueError(f"max_exponent = {hi} > 300: 10^k would overflow float64")

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        return st.tuples(weights(d, cond=cond, complex=complex), st.integers(lo, hi)).map(
            lambda pair: (tuple(10.0 ** pair[1] * w for w in pair[0]), 10.0 ** pair[1])
        )

    return _with_widths(widths, build)


def unbalanced_weights(
    widths: WidthsLike,
    *,
    max_exponent: int = 8,
    cond: float = 10.0,
    complex: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Weights moved far along their orbit by a scalar gauge: ``W_i -> (t_i / t_{i-1}) W_i``.

    ``t_0 = t_N = 1`` and ``t_i = 10^{k_i}`` for hidden layers with integer
    ``|k_i| <= max_exponent``; so the end-to-end map is that of well-conditioned weights, but the
    layer norms differ by up to ``10^{2 max_exponent}`` (the ``1e8 / 1 / 1e-8`` gauges of a
    badly initialised network). ``max_exponent = 0`` gives plain :func:`weights`.
    """
    m = _check_int("max_exponent", max_exponent, 0)

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        n = len(d) - 1
        exps = st.lists(st.integers(-m, m), min_size=n - 1, max_size=n - 1)

        def apply(pair):
            W, k = pair
            t = [1.0, *(10.0 ** e for e in k), 1.0]
            return tuple((t[i + 1] / t[i]) * w for i, w in enumerate(W))

        return st.tuples(weights(d, cond=cond, complex=complex), exps).map(apply)

    return _with_widths(widths, build)


def degenerate_weights(
    widths: WidthsLike,
    *,
    kinds: Sequence[str] = DEGENERACIES,
    complex: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Weights at the edges of the input space, one ``kind`` per example.

    - ``"zero_layer"``: one layer (drawn, often the last: a zero-initialised head) is exactly 0;
    - ``"zero_product"``: ``X = 0`` with every layer nonzero (``W_2`` kills the range of ``W_1``
      where the widths allow it, else a zero layer);
    - ``"rank_one"``: every layer has rank 1 (``X`` rank 1 or 0);
    - ``"tiny"`` / ``"huge"``: well-conditioned weights times ``1e-200`` / ``1e+150``.
    """
    kinds = tuple(kinds)
    for k in kinds:
        if k not in DEGENERACIES:
            raise ValueError(f"kinds: {k!r} is not one of {DEGENERACIES}")
    if not kinds:
        raise ValueError("kinds is empty: give at least one of " + ", ".join(DEGENERACIES))

    def build(d: tuple[int, ...]) -> st.SearchStrategy:
        n = len(d) - 1

        @st.composite
        def _degenerate(draw) -> tuple[np.ndarray, ...]:
            kind = draw(st.sampled_from(kinds))
            W = list(draw(weights(d, cond=10.0, complex=complex)))
            seed = draw(_SEEDS)
            rng = np.random.default_rng(seed)
            if kind == "zero_layer":
                i = draw(st.sampled_from([n - 1, *range(n)]))
                W[i] = np.zeros_like(W[i])
            elif kind == "zero_product":
                i = draw(st.integers(0, n - 2)) if n >= 2 else 0
                if n >= 2 and d[i + 1] >= 2:
                    # W_{i+1} and W_{i+2} meet in a hidden layer of width >= 2: split it.
                    r = d[i + 1] // 2
                    Q = haar_orthonormal(rng, d[i + 1], d[i + 1], complex)
                    W[i] = Q[:, :r] @ (Q[:, :r].conj().T @ W[i])
                    W[i + 1] = (W[i + 1] @ Q[:, r:]) @ Q[:, r:].conj().T
                else:
                    W[i] = np.zeros_like(W[i])
            elif kind == "rank_one":
                for j in range(n):
                    u = haar_orthonormal(rng, d[j + 1], 1, complex)
                    v = haar_orthonormal(rng, d[j], 1, complex)
                    W[j] = (1.0 + rng.random()) * (u @ v.conj().T)
            else:
                c = 1e-200 if kind == "tiny" else 1e150
                W = [c * w for w in W]
            return tuple(np.ascontiguousarray(w, dtype=_dtype(complex)) for w in W)

        return _degenerate()

    return _with_widths(widths, build)
