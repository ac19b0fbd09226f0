"""``ker A_W ∩ {Hermitian tuples}``: the kernel of the Hermitian Newton system.

docs/math section 3 (Newton balancing): ``Herm(A_W^* A_W s) = mu`` over Hermitian s has kernel
``ker A_W ∩ Hermitian``, computed here densely from the factored stabiliser algebra ``ker A_W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import herm, pack, unpack
from ..subspaces import MAX_CONSTRAINT_ENTRIES, FactoredSubspace, TooLargeError

#: Largest ``ker A_W`` dimension for which its Hermitian part is computed densely.
MAX_HERMITIAN_KERNEL_SOURCE = 2000


@dataclass(frozen=True)
class HermitianKernel:
    """``ker A_W ∩ {Hermitian tuples}``, a real-linear subspace, in the factored form of ``ker A_W``.

    ``ker A_W`` is not closed under the conjugate transpose (e.g. for (2, 4, 2) it is
    ``ker W_2 ⊗ range(W_1)^⊥``, ``{K Y C^*}``, and ``(K Y C^*)^* = C Y^* K^*`` is not of that form), so its
    Hermitian part can be much smaller. Basis element m is ``embed(Z coeffs[:, m])`` where
    ``embed(y) = (L_i Y_i R_i^*)_i`` is the isometry of the :class:`FactoredSubspace`; the basis
    is orthonormal for the real inner product ``<A, B> = Re tr(A^* B)``.
    """

    space: FactoredSubspace
    coeffs: np.ndarray  # (dim ker A_W, dim of the Hermitian part), complex or real

    @property
    def dim(self) -> int:
        """Real dimension."""
        return int(self.coeffs.shape[1])

    def _embed(self, y):
        Y = unpack(y, self.space.y_shapes)
        return tuple(L @ Yk @ herm(R) for L, R, Yk in zip(self.space.left, self.space.right, Y, strict=True))

    def basis(self) -> list[tuple[np.ndarray, ...]]:
        Z = self.space.basis
        return [self._embed(self.coeffs[:, m] if Z is None else Z @ self.coeffs[:, m]) for m in range(self.dim)]

    def project(self, mats) -> tuple[np.ndarray, ...]:
        """Orthogonal projection (real inner product) of a Hermitian tuple onto the subspace."""
        if self.dim == 0:
            return tuple(np.zeros_like(m) for m in mats)
        Y = [herm(L) @ M @ R for L, R, M in zip(self.space.left, self.space.right, mats, strict=True)]
        y = pack(Y)
        Z = self.space.basis
        if Z is not None:
            y = herm(Z) @ y
        a = (herm(self.coeffs) @ y).real
        y = self.coeffs @ a
        if Z is not None:
            y = Z @ y
        return self._embed(y)


def hermitian_kernel(K: FactoredSubspace, complex_: bool, atol: float = 1e-10) -> HermitianKernel:
    """The Hermitian part of a factored subspace ``K = {(L_i Y_i R_i^*)}`` (``pack(Y) in range Z``).

    Parametrise ``x = embed(Z c)`` with ``c = alpha + i beta`` (``c = alpha`` when not
    ``complex_``); ``x`` is Hermitian iff ``S_i^* (x_i - x_i^*) S_i = 0`` with ``S_i`` an orthonormal
    basis of ``range[L_i, R_i]`` (which contains the row and column spaces of ``x_i - x_i^*``).
    That is a real linear system in ``(alpha, beta)``, solved densely by an SVD; its singular
    values below ``atol`` count as zero (the parametrisation is orthonormal, so they measure the
    skew part of unit kernel elements).

    Raises
    ------
    TooLargeError
        If ``dim K`` exceeds :data:`MAX_HERMITIAN_KERNEL_SOURCE` or the constraint matrix would
        exceed ``MAX_CONSTRAINT_ENTRIES`` entries.
    """
    k = K.dim
    cdtype = np.complex128 if complex_ else np.float64
    if k == 0:
        return HermitianKernel(K, np.zeros((0, 0), dtype=cdtype))
    if k > MAX_HERMITIAN_KERNEL_SOURCE:
        raise TooLargeError(f"ker A_W has dimension {k} > {MAX_HERMITIAN_KERNEL_SOURCE}")
    Zfull = np.eye(k) if K.basis is None else K.basis
    nparam = 2 * k if complex_ else k
    blocks = []
    offset = 0
    rows = 0
    for L, R in zip(K.left, K.right, strict=True):
        p, q = L.shape[1], R.shape[1]
        Zh = Zfull[offset : offset + p * q]
        offset += p * q
        if p * q == 0:
            continue
        S, sv, _ = np.linalg.svd(np.hstack([L, R]), full_matrices=False)
        S = S[:, sv > 1e-12 * sv[0]]
        s = S.shape[1]
        rows += (2 if complex_ else 1) * s * s
        if rows * nparam > MAX_CONSTRAINT_ENTRIES:
            raise TooLargeError(f"Hermitian kernel constraint system of {rows} x {nparam} entries")
        Yk = Zh.reshape(p, q, k)  # row-major ravel of Y_i, one slice per basis column
        M = np.einsum("ap,pqm,qb->abm", herm(S) @ L, Yk, herm(R) @ S)  # S^* x_m S
        cols = [M - np.conj(np.swapaxes(M, 0, 1))]  # skew part for real coefficient 1
        if complex_:
            iM = 1j * M
            cols.append(iM - np.conj(np.swapaxes(iM, 0, 1)))
        C = np.concatenate(cols, axis=2).reshape(s * s, nparam)
        blocks.append(np.vstack([C.real, C.imag]) if complex_ else C.real)
    if blocks:
        A = np.vstack(blocks)
        _, sv, Vt = np.linalg.svd(A, full_matrices=True)
        null = Vt[int(np.count_nonzero(sv > atol)) :].T
    else:
        null = np.eye(nparam)
    coeffs = null[:k] + 1j * null[k:] if complex_ else null
    return HermitianKernel(K, np.asarray(coeffs, dtype=cdtype))
