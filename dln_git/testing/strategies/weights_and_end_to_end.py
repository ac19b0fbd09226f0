"""Weights and end-to-end matrices: well-conditioned, and balanced from the SVD chart.

:func:`weights` draws layers ``W_i = U_i diag(s_i) V_i^*`` of bounded condition number,
:func:`end_to_end_matrices` matrices ``X`` of exact rank, and :func:`balanced_weights_with_end_to_end`
/ :func:`balanced_weights` balanced weights (``mu(W) = 0``) built from the SVD chart of an ``X``
(MATH.md section 2), independently of any balancing code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from ._common import _SEEDS, WidthsLike, _check_cond, _check_int, _check_scale, _dtype, _with_widths
from .factors_and_spectra import _svd_product, haar_orthonormal, spectra

__all__ = ["balanced_weights", "balanced_weights_with_end_to_end", "end_to_end_matrices", "weights"]


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
