"""The SVD chart of a fiber and the minimum of the regularizer (docs/math section 2).

If X = U S V^* has rank r and every hidden width is >= r, then
``min_{F_X} R = (N/2) sum_k s_k^{2/N}``, attained (and balanced) at
``W_1 = Q_1 S^{1/N} V^*``, ``W_i = Q_i S^{1/N} Q_{i-1}^*``, ``W_N = U S^{1/N} Q_{N-1}^*``.
"""

from __future__ import annotations

import numpy as np

from .linalg import _rank_from_singular_values, herm
from .options import check_options
from .scaling import normalized
from .validation import as_depth, as_matrix, as_widths
from .weights import as_rng, haar_orthonormal

__all__ = ["balanced_from_end_to_end", "min_regularizer"]


def balanced_from_end_to_end(X, widths, rng=None, *, rtol: float = 1e-12):
    """A balanced point of the fiber over X, by the SVD chart.

    ``X = U S V^*`` truncated to its numerical rank r (singular values above ``rtol * s_1``);
    ``W_1 = Q_1 S^{1/N} V^*``, ``W_i = Q_i S^{1/N} Q_{i-1}^*``, ``W_N = U S^{1/N} Q_{N-1}^*``
    with ``Q_i`` of shape ``(d_i, r)`` with orthonormal columns. The point minimises R on the
    fiber: ``R = (N/2) sum s_k^{2/N}``.

    Parameters
    ----------
    X : array of shape (d_N, d_0)
    widths : sequence of int
        ``(d_0, ..., d_N)``; every hidden width must be >= rank X.
    rng : None, int or Generator
        None: the canonical frames ``Q_i = [I_r; 0]`` (deterministic). Otherwise Haar-random
        frames (complex when X is complex), which sweep the K-orbit of balanced points.

    Raises
    ------
    ValueError
        If X's shape does not match ``(d_N, d_0)`` or a hidden width is below rank X.
    """
    (rtol,) = check_options(rtol=rtol)
    X = as_matrix(X, "X")
    widths = as_widths(widths)
    if X.shape != (widths[-1], widths[0]):
        raise ValueError(
            f"X has shape {X.shape} but widths {widths} need X of shape ({widths[-1]}, {widths[0]})"
        )
    N = len(widths) - 1
    (X,), x_scale = normalized((X,))  # a power of two: s(X) = x_scale s(X / x_scale) exactly
    U, s, Vh = np.linalg.svd(X, full_matrices=False)
    r = _rank_from_singular_values(s, rtol)
    for i in range(1, N):
        if widths[i] < r:
            raise ValueError(
                f"hidden layer {i} has width {widths[i]} < rank X = {r}: the fiber has no "
                "balanced point in the SVD chart (every hidden width must be >= rank X)"
            )
    complex_ = np.iscomplexobj(X)
    root = s[:r] ** (1.0 / N) * x_scale ** (1.0 / N)
    if rng is None:
        Q = [np.eye(widths[i], r) for i in range(1, N)]
    else:
        gen = as_rng(rng)
        Q = [haar_orthonormal(widths[i], r, gen, complex=complex_) for i in range(1, N)]
    frames = [herm(Vh[:r]), *Q, U[:, :r]]  # Q_0 = V_r, Q_N = U_r
    dtype = np.complex128 if complex_ else np.float64
    return tuple(
        np.asarray((frames[i] * root) @ herm(frames[i - 1]), dtype=dtype) for i in range(1, N + 1)
    )


def min_regularizer(X, depth, *, rtol: float = 1e-12) -> float:
    """Minimum of R on the fiber over X: ``(N/2) sum_k s_k(X)^{2/N}``.

    Attained (when every hidden width is >= rank X) by :func:`balanced_from_end_to_end`.
    Singular values below ``rtol * s_1`` count as zero, as in the SVD chart: rounding-level
    singular values of a rank-deficient X would otherwise add ``(1e-16)^{2/N}`` each (1e-8 for
    N = 4).
    """
    (rtol,) = check_options(rtol=rtol)
    X = as_matrix(X, "X")
    N = as_depth(depth)
    (X,), x_scale = normalized((X,))
    s = np.linalg.svd(X, compute_uv=False)
    s = s[: _rank_from_singular_values(s, rtol)]
    return float(0.5 * N * np.sum(s ** (2.0 / N)) * x_scale ** (2.0 / N))
