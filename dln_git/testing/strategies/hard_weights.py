"""Hard inputs: rescaled weights, weights unbalanced by a scalar gauge, degenerate weights.

:func:`rescaled_weights` pairs ``(c W, c)`` with ``c = 10^k``, :func:`unbalanced_weights` moves
weights far along their orbit (``W_i -> (t_i / t_{i-1}) W_i``), and :func:`degenerate_weights`
draws one of :data:`DEGENERACIES` (a zero layer, a zero product, rank one, tiny, huge).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

from ._common import _SEEDS, WidthsLike, _check_int, _dtype, _with_widths
from .factors_and_spectra import haar_orthonormal
from .weights_and_end_to_end import weights

__all__ = ["DEGENERACIES", "degenerate_weights", "rescaled_weights", "unbalanced_weights"]


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
