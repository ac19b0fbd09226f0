"""Exact kernels of ``A_W`` (the stabiliser algebra) and of ``dphi_W^*``, computed cheaply.

Both kernels have a factored form that makes them small linear-algebra problems:

* ``xi in ker A_W`` forces ``xi_i F_i = 0`` and ``B_i xi_i = 0`` (``F_i = W_i..W_1``,
  ``B_i = W_N..W_{i+1}``; induction on ``xi_i W_i = W_i xi_{i-1}`` from ``xi_0 = 0`` and
  ``xi_N = 0``), so ``xi_i = K_i Y_i C_i^*`` with ``K_i`` an orthonormal basis of ``ker B_i``
  and ``C_i`` of ``range(F_i)^⊥``. The remaining conditions
  ``K_i Y_i C_i^* W_i = W_i K_{i-1} Y_{i-1} C_{i-1}^*`` (i = 2..N-1) are linear in the small
  ``Y``. Generic equal-width networks have ``K_i`` or ``C_i`` empty: the kernel is found
  trivial from singular values alone.
* ``Z in ker dphi^*`` forces ``B_1^* Z = 0`` and ``Z F_{N-1}^* = 0``, so
  ``Z = U_a Y V_b^*``; the middle conditions ``B_j^* Z F_{j-1}^* = 0`` are linear in ``Y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .end_to_end import backward_products, forward_products
from .linalg import _rank_from_singular_values, herm, orthonormal_complement, pack, unpack
from .options import check_options
from .scaling import normalized
from .validation import as_weights

__all__ = ["FactoredSubspace", "TooLargeError", "differential_cokernel", "stabiliser_subspace"]

#: Largest number of entries of the dense constraint matrix built for a kernel.
MAX_CONSTRAINT_ENTRIES = 50_000_000


class TooLargeError(RuntimeError):
    """The dense constraint system of a kernel computation would be too large."""


@dataclass(frozen=True)
class FactoredSubspace:
    """The subspace ``{(L_k Y_k R_k^*)_k : pack(Y) in range(Z)}`` of a tuple of matrices.

    ``L_k``, ``R_k`` and ``Z`` have orthonormal columns, so ``Y -> (L_k Y_k R_k^*)`` is an
    isometry and the orthogonal projection is ``M -> embed(Z Z^* restrict(M))``. ``Z = None``
    means every ``Y``.
    """

    left: tuple[np.ndarray, ...]
    right: tuple[np.ndarray, ...]
    basis: np.ndarray | None

    @property
    def y_shapes(self) -> list[tuple[int, int]]:
        return [(L.shape[1], R.shape[1]) for L, R in zip(self.left, self.right, strict=True)]

    @property
    def dim(self) -> int:
        if self.basis is None:
            return int(sum(p * q for p, q in self.y_shapes))
        return int(self.basis.shape[1])

    def project(self, mats) -> tuple[np.ndarray, ...]:
        """Orthogonal projection of ``mats`` onto the subspace."""
        Y = [herm(L) @ M @ R for L, R, M in zip(self.left, self.right, mats, strict=True)]
        if self.basis is not None:
            y = pack(Y)
            y = self.basis @ (herm(self.basis) @ y) if y.size else y
            Y = list(unpack(y, self.y_shapes))
        return tuple(L @ Yk @ herm(R) for L, R, Yk in zip(self.left, self.right, Y, strict=True))


def _null_space(rows: list[list[tuple[int, np.ndarray, np.ndarray]]], y_shapes, atol: float):
    """Null space of ``Y -> (sum_terms A Y_k B)_rows``; None if there is no constraint."""
    sizes = [p * q for p, q in y_shapes]
    ncols = sum(sizes)
    if ncols == 0:
        return np.zeros((0, 0))
    blocks = []
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for terms in rows:
        m = terms[0][1].shape[0] * terms[0][2].shape[1]
        if m * ncols > MAX_CONSTRAINT_ENTRIES:
            raise TooLargeError(f"kernel constraint system of {m} x {ncols} entries")
        block = None
        for k, A, B in terms:
            if sizes[k] == 0:
                continue
            if block is None:
                block = np.zeros((m, ncols), dtype=np.result_type(A, B))
            # row-major vec(A Y B) = kron(A, B^T) vec(Y)
            block[:, offsets[k] : offsets[k + 1]] += np.kron(A, B.T)
        if block is not None:
            blocks.append(block)
    if not blocks:
        return None
    M = np.vstack(blocks)
    if M.size > MAX_CONSTRAINT_ENTRIES:
        raise TooLargeError(f"kernel constraint system of {M.shape[0]} x {M.shape[1]} entries")
    # Economy SVD when M is tall: the right singular vectors already span C^ncols, and a full
    # U (rows x rows) would cost O(rows^2) memory (72 GiB for N = 9, width 128). A wide M needs
    # the full Vh (ncols x ncols) for its null space; U is then the smaller factor.
    _, s, Vh = np.linalg.svd(M, full_matrices=M.shape[0] < ncols)
    r = int(np.count_nonzero(s > atol))
    return herm(Vh[r:])


def _deficits(mats, rtol) -> list[tuple[int, int]]:
    """(rank, dimension) pairs for a list of matrices, from singular values only."""
    out = []
    for M in mats:
        s = np.linalg.svd(M, compute_uv=False)
        out.append(_rank_from_singular_values(s, rtol))
    return out


def stabiliser_subspace(W, rtol: float = 1e-10) -> FactoredSubspace:
    """``ker A_W`` (the Lie algebra of the stabiliser of W) as a :class:`FactoredSubspace`.

    Ranks of the partial products ``F_i``, ``B_i`` count singular values above ``rtol`` times
    the largest; the final constraint system uses the absolute tolerance
    ``rtol * max_i ||W_i||_2``. Scale-invariant (computed at scale 1).
    """
    (rtol,) = check_options(rtol=rtol)
    W, _ = normalized(as_weights(W))
    N = len(W)
    if N == 1:
        return FactoredSubspace((), (), None)
    F = forward_products(W)
    B = backward_products(W)
    hidden = range(1, N)
    rank_F = _deficits([F[i] for i in hidden], rtol)
    rank_B = _deficits([B[i] for i in hidden], rtol)
    dtype = W[0].dtype
    lefts, rights = [], []
    for k, i in enumerate(hidden):
        d = W[i - 1].shape[0]
        c, kk = d - rank_F[k], d - rank_B[k]
        if c > 0 and kk > 0:
            lefts.append(orthonormal_complement(B[i], "kernel", rtol))
            rights.append(orthonormal_complement(F[i], "range", rtol))
        else:
            lefts.append(np.zeros((d, 0), dtype=dtype))
            rights.append(np.zeros((d, 0), dtype=dtype))
    y_shapes = [(L.shape[1], R.shape[1]) for L, R in zip(lefts, rights, strict=True)]
    if sum(p * q for p, q in y_shapes) == 0:
        return FactoredSubspace(tuple(lefts), tuple(rights), np.zeros((0, 0), dtype=dtype))
    rows = []
    for i in range(2, N):  # weight W_i couples hidden i-1 (index i-2) and hidden i (index i-1)
        Wi = W[i - 1]
        rows.append(
            [
                (i - 1, lefts[i - 1], herm(rights[i - 1]) @ Wi),
                (i - 2, -(Wi @ lefts[i - 2]), herm(rights[i - 2])),
            ]
        )
    scale = max(np.linalg.norm(w, 2) for w in W)
    Z = _null_space(rows, y_shapes, rtol * scale)
    return FactoredSubspace(tuple(lefts), tuple(rights), Z)


def differential_cokernel(W, rtol: float = 1e-10) -> FactoredSubspace:
    """``ker dphi_W^* = range(dphi_W)^⊥`` in the space of ``d_N x d_0`` matrices.

    ``Z = U_a Y V_b^*`` with ``U_a`` a basis of ``range(B_1)^⊥`` and ``V_b`` of ``ker F_{N-1}``,
    subject to ``B_j^* Z F_{j-1}^* = 0`` for j = 2..N-1. Scale-invariant (computed at scale 1).
    """
    (rtol,) = check_options(rtol=rtol)
    W, _ = normalized(as_weights(W))
    N = len(W)
    dN, d0 = W[-1].shape[0], W[0].shape[1]
    dtype = W[0].dtype
    if N == 1:
        empty = (np.zeros((dN, 0), dtype=dtype),), (np.zeros((d0, 0), dtype=dtype),)
        return FactoredSubspace(*empty, None)
    F = forward_products(W)
    B = backward_products(W)
    Ua = orthonormal_complement(B[1], "range", rtol)
    Vb = orthonormal_complement(F[N - 1], "kernel", rtol)
    y_shapes = [(Ua.shape[1], Vb.shape[1])]
    rows = [[(0, herm(B[j]) @ Ua, herm(Vb) @ herm(F[j - 1]))] for j in range(2, N)]
    scale = max(np.linalg.norm(B[j], 2) * np.linalg.norm(F[j - 1], 2) for j in range(1, N + 1)
                if B[j] is not None and F[j - 1] is not None) if N > 2 else 1.0
    Z = _null_space(rows, y_shapes, rtol * scale) if y_shapes[0][0] * y_shapes[0][1] else None
    return FactoredSubspace((Ua,), (Vb,), Z)
