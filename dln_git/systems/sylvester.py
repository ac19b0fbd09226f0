"""Recursive (blocked) triangular Sylvester and Lyapunov solvers on Schur factors.

LAPACK's ``trsyl`` solves ``A X + X B^* = F`` for (quasi-)upper-triangular A, B column by column
(level-2 BLAS); for n ~ 1000 that is most of the cost of balanced truncation. Splitting
recursively (Jonsson–Kågström) turns the work into matrix products:

* split A = [[A11, A12], [0, A22]], X = [X1; X2]:  ``A22 X2 + X2 B^* = F2``, then
  ``A11 X1 + X1 B^* = F1 - A12 X2``;
* split B = [[B11, B12], [0, B22]], X = [X1, X2] (so ``X B^* = [X1 B11^* + X2 B12^*, X2 B22^*]``):
  ``A X2 + X2 B22^* = F2``, then ``A X1 + X1 B11^* = F1 - X2 B12^*``;

with ``trsyl`` on blocks of at most :data:`BLOCK` rows and columns. A split never cuts a 2 x 2
diagonal block of a real Schur factor.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["BLOCK", "lyapunov_schur", "sylvester_schur"]

#: Largest block solved by LAPACK ``trsyl`` directly.
BLOCK = 64


def _cut(T: np.ndarray) -> int:
    """A split index near the middle that does not cut a 2 x 2 diagonal block."""
    k = T.shape[0] // 2
    if not np.iscomplexobj(T) and T[k, k - 1] != 0:
        k += 1
    return k


def _solve(A, B, F, trsyl, adj):
    m, n = F.shape
    if m <= BLOCK and n <= BLOCK:
        X, scale, info = trsyl(A, B, F, trana="N", tranb=adj)
        if info < 0:
            raise ValueError(f"LAPACK trsyl rejected argument {-info}")
        return X / scale
    if m >= n:
        k = _cut(A)
        if k >= m:
            k = m - 2
        X2 = _solve(A[k:, k:], B, F[k:], trsyl, adj)
        X1 = _solve(A[:k, :k], B, F[:k] - A[:k, k:] @ X2, trsyl, adj)
        return np.vstack([X1, X2])
    k = _cut(B)
    if k >= n:
        k = n - 2
    X2 = _solve(A, B[k:, k:], F[:, k:], trsyl, adj)
    X1 = _solve(A, B[:k, :k], F[:, :k] - X2 @ B[:k, k:].conj().T, trsyl, adj)
    return np.hstack([X1, X2])


def sylvester_schur(A: np.ndarray, B: np.ndarray, F: np.ndarray) -> np.ndarray:
    """X with ``A X + X B^* = F`` for (quasi-)upper-triangular A and B (Schur factors)."""
    dtype = np.result_type(A, B, F, np.float64)
    A, B, F = (np.asarray(M, dtype=dtype) for M in (A, B, F))
    (trsyl,) = scipy.linalg.get_lapack_funcs(("trsyl",), (A,))
    return _solve(A, B, F, trsyl, "C" if np.iscomplexobj(A) else "T")


def lyapunov_schur(R: np.ndarray, F: np.ndarray, *, adjoint: bool = False) -> np.ndarray:
    """X with ``R X + X R^* = F`` (``adjoint=False``) or ``R^* X + X R = F`` (``adjoint=True``).

    R is a (quasi-)upper-triangular Schur factor. For the adjoint equation, ``J R^* J`` (J the
    reversal permutation) is again upper quasi-triangular, and ``X = J Y J`` with
    ``(J R^* J) Y + Y (J R^* J)^* = J F J``.
    """
    if not adjoint:
        return sylvester_schur(R, R, F)
    Rt = R.conj().T[::-1, ::-1]
    return sylvester_schur(Rt, Rt, F[::-1, ::-1])[::-1, ::-1]
