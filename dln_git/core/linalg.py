"""Small linear-algebra helpers on tuples of matrices (weights, Lie algebra elements).

The inner product is ``<A, B> = Re tr(A^* B)`` summed over the entries of a tuple; packing
concatenates the row-major ravel of every matrix, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "herm",
    "inner",
    "norm",
    "numerical_rank",
    "orthonormal_complement",
    "pack",
    "unpack",
]


def herm(A: np.ndarray) -> np.ndarray:
    """Conjugate transpose ``A^*`` (a view for real arrays)."""
    return A.T.conj() if np.iscomplexobj(A) else A.T


def inner(A: Sequence[np.ndarray], B: Sequence[np.ndarray]) -> float:
    """``<A, B> = sum_i Re tr(A_i^* B_i)`` for tuples of equally shaped matrices."""
    return float(sum(np.vdot(a, b).real for a, b in zip(A, B, strict=True)))


def norm(A: Sequence[np.ndarray]) -> float:
    """Frobenius norm of a tuple of matrices, ``sqrt(sum_i ||A_i||_F^2)``.

    Summing squares under- or overflows outside about [1e-150, 1e150]; there (only) the entries
    are rescaled first (:func:`dln_git.core.scaling.safe_norm`).
    """
    value = float(np.sqrt(sum(np.vdot(a, a).real for a in A)))
    if 1e-150 < value < 1e150:
        return value
    from .scaling import safe_norm

    return safe_norm(tuple(A))


def pack(mats: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate the row-major ravel of each matrix into one vector."""
    if not mats:
        return np.zeros(0)
    return np.concatenate([np.ravel(m) for m in mats])


def unpack(v: np.ndarray, shapes: Sequence[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Inverse of :func:`pack`: split ``v`` into matrices of the given shapes (views)."""
    v = np.ravel(v)
    sizes = [r * c for r, c in shapes]
    if v.size != sum(sizes):
        raise ValueError(f"vector of length {v.size} does not match shapes {list(shapes)}")
    out, start = [], 0
    for (r, c), n in zip(shapes, sizes, strict=True):
        out.append(v[start : start + n].reshape(r, c))
        start += n
    return tuple(out)


def _rank_from_singular_values(s: np.ndarray, rtol: float, atol: float = 0.0) -> int:
    if s.size == 0:
        return 0
    tol = max(rtol * s[0], atol)
    return int(np.count_nonzero(s > tol))


def numerical_rank(A: np.ndarray, rtol: float = 1e-10, atol: float = 0.0) -> int:
    """Number of singular values of ``A`` above ``max(rtol * s_max, atol)``."""
    return _rank_from_singular_values(np.linalg.svd(A, compute_uv=False), rtol, atol)


def orthonormal_complement(A: np.ndarray, side: str, rtol: float, atol: float = 0.0):
    """Orthonormal basis (as columns) of ``range(A)^⊥`` (side="range") or ``ker(A)`` (side="kernel").

    Ranks count singular values above ``max(rtol * s_max, atol)``.
    """
    U, s, Vh = np.linalg.svd(A, full_matrices=True)
    r = _rank_from_singular_values(s, rtol, atol)
    if side == "range":
        return U[:, r:]
    if side == "kernel":
        return herm(Vh[r:])
    raise ValueError(f"side must be 'range' or 'kernel', got {side!r}")
