"""The diagonal balanced model of the Gram operator (the ``"balanced"`` preconditioner).

docs/math section 2: in the frames of :mod:`dln_git.core.gram.frames` the Gram operator
``A_W^* A_W`` keeps, on the diagonal of every block, ``d^2`` independent tridiagonal chains of
length N - 1; at a balanced point these chains are the whole operator.
"""

from __future__ import annotations

import numpy as np

#: Diagonal coefficients below this fraction of the largest one are zero (pseudo-inverse).
_ZERO_DIAG_RTOL = 1e-13
#: LDL pivots below this fraction of their diagonal coefficient are zero (singular chain).
_ZERO_PIVOT_RTOL = 1e-10


def _sq_norms(A: np.ndarray, axis: int) -> np.ndarray:
    """Squared Euclidean norms of the rows (axis=1) or columns (axis=0) of A."""
    return np.einsum("ij,ij->j" if axis == 0 else "ij,ij->i", A.conj(), A).real


class _BalancedModel:
    """The diagonal balanced model of the Gram operator of ``Wt`` (weights already written in
    the frames, see :class:`_Frames`) and its batched pseudo-inverse.

    With ``a_i[k] = ||Wt_i[k, :]||^2``, ``b_i[j] = ||Wt_{i+1}[:, j]||^2`` and ``t_i = diag(Wt_i)``
    (interior weights, zero-padded to the largest hidden width D), the model is

        (M eta)_i[j,k] = c_i[j,k] eta_i[j,k] - beta_i[j,k] eta_{i-1}[j,k]
                         - conj(beta_{i+1}[j,k]) eta_{i+1}[j,k],
        c_i[j,k] = a_i[k] + b_i[j],   beta_i[j,k] = t_i[j] conj(t_i[k]),

    i.e. the diagonal of every block of the block-tridiagonal operator: D^2 independent
    tridiagonal (N-1) x (N-1) systems, one per entry (j, k). ``hermitian=True`` replaces c by
    ``(c[j,k] + c[k,j]) / 2``, the model of ``s -> Herm(A^*A s)`` restricted to Hermitian s (it
    maps Hermitian to Hermitian).

    The model is Hermitian positive semi-definite: it is the exact Gram operator of the diagonal
    network with entries t (chain energy ``sum_i |t_i[k] eta_i - t_i[j] eta_{i-1}|^2``) plus the
    non-negative diagonal ``a_i[k] - |t_i[k]|^2 + b_i[j] - |t_{i+1}[j]|^2``
    (``(T T^*)[k,k] >= |T[k,k]|^2``). At a balanced point in the frames of
    :func:`balanced_bases` it *is* the operator.

    The chains are factored ``L D L^*`` by a vectorised Thomas algorithm. Pseudo-inverse: diagonal
    coefficients below 1e-13 of the largest and pivots below 1e-10 of their coefficient count as
    zero (the coupling that follows is dropped, a perturbation of order sqrt(pivot)); a zero pivot
    in a chain segment longer than one entry has the kernel vector ``v`` with ``L^* v = e_p``,
    which is projected out before and after the solve, so the result is the Moore–Penrose
    inverse of the (perturbed) model: symmetric PSD.
    """

    def __init__(self, Wt, hermitian: bool):
        H = len(Wt) - 1
        self.dims = [w.shape[0] for w in Wt[:-1]]
        D = max(self.dims, default=0)
        self.H, self.D = H, D
        cdtype = np.float64 if all(np.isrealobj(w) for w in Wt) else np.complex128
        c = np.zeros((H, D, D))
        beta = np.zeros((H, D, D), dtype=cdtype)
        for h in range(H):
            d = self.dims[h]
            a = _sq_norms(Wt[h], axis=1)  # (E_i^* W_i W_i^* E_i)[k, k]
            b = _sq_norms(Wt[h + 1], axis=0)  # (E_i^* W_{i+1}^* W_{i+1} E_i)[j, j]
            if hermitian:  # (c[j, k] + c[k, j]) / 2
                a = b = 0.5 * (a + b)
            np.add(b[:, None], a[None, :], out=c[h, :d, :d])
            if h > 0:
                t = np.zeros(D, dtype=cdtype)
                diag = np.diagonal(Wt[h])
                t[: diag.size] = diag
                np.multiply(t[:, None], t.conj()[None, :], out=beta[h])
        self.c, self.beta = c, beta
        self._factor()

    def _factor(self):
        c, beta, H = self.c, self.beta, self.H
        top = c.max() if c.size else 0.0
        zero_c = c <= _ZERO_DIAG_RTOL * top
        dinv = np.zeros_like(c)
        l = np.zeros_like(beta)
        flags = []
        for h in range(H):
            if h == 0:
                piv = c[0].copy()
            else:
                l[h] = -beta[h] * dinv[h - 1]
                piv = c[h] - np.abs(beta[h]) ** 2 * dinv[h - 1]
            zero = zero_c[h] | (piv <= _ZERO_PIVOT_RTOL * c[h])
            dinv[h] = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, piv))
            if h > 0:
                # a zero pivot inside a coupled segment: its kernel vector is not e_h
                flagged = zero & (l[h] != 0)
                if flagged.any():
                    jj, kk = np.nonzero(flagged)
                    flags.append((h, jj, kk))
        self.dinv, self.l = dinv, l
        # kernel vectors v (L^* v = e_p on the segment ending at p), one row per flagged chain
        if flags:
            hp = np.concatenate([np.full(jj.size, h) for h, jj, _ in flags])
            jj = np.concatenate([f[1] for f in flags])
            kk = np.concatenate([f[2] for f in flags])
            V = np.zeros((hp.size, H), dtype=l.dtype)
            V[np.arange(hp.size), hp] = 1.0
            for m in range(H - 2, -1, -1):
                below = m < hp
                V[below, m] = -np.conj(l[m + 1, jj[below], kk[below]]) * V[below, m + 1]
            V /= np.linalg.norm(V, axis=1, keepdims=True)
            self._kernel = (jj, kk, V)
        else:
            self._kernel = None

    @property
    def kernel_vectors(self) -> int:
        """Number of non-trivial kernel vectors of the model (zero pivots in coupled segments)."""
        return 0 if self._kernel is None else int(self._kernel[0].size)

    def _project(self, Y):
        if self._kernel is None:
            return Y
        jj, kk, V = self._kernel
        Yt = np.moveaxis(Y, 0, -1)  # (D, D, H) view
        coef = np.sum(V.conj() * Yt[jj, kk], axis=1)
        np.add.at(Yt, (jj, kk), -V * coef[:, None])
        return Y

    def solve_stack(self, Y):
        """``M^+`` on a stack ``Y`` of shape (H, D, D) (entries (j, k) are independent chains)."""
        l, dinv, H = self.l, self.dinv, self.H
        Y = self._project(Y)
        Z = np.empty_like(Y)
        Z[0] = Y[0]
        for h in range(1, H):
            Z[h] = Y[h] - l[h] * Z[h - 1]
        Z *= dinv
        for h in range(H - 2, -1, -1):
            Z[h] -= np.conj(l[h + 1]) * Z[h + 1]
        return self._project(Z)

    def apply_stack(self, Y):
        """The model itself on a stack (for tests and diagnostics)."""
        out = self.c * Y
        out[1:] -= self.beta[1:] * Y[:-1]
        out[:-1] -= np.conj(self.beta[1:]) * Y[1:]
        return out

    def to_stack(self, r):
        Y = np.zeros((self.H, self.D, self.D), dtype=np.result_type(self.l, *r))
        for h, d in enumerate(self.dims):
            Y[h, :d, :d] = r[h]
        return Y

    def from_stack(self, Y):
        return tuple(Y[h, :d, :d].copy() for h, d in enumerate(self.dims))

    def __call__(self, r):
        """``M^+ r`` for a tuple r in frame coordinates."""
        return self.from_stack(self.solve_stack(self.to_stack(r)))

    @property
    def packable(self) -> bool:
        """Whether :meth:`solve_packed` applies: equal hidden widths (the stack is then the packed
        layout) and no kernel projection (which works in place)."""
        return all(d == self.D for d in self.dims) and self._kernel is None

    def solve_packed(self, v: np.ndarray, hermitian: bool = False) -> np.ndarray:
        """``M^+`` on a packed tuple ``v = pack(r)`` (requires :attr:`packable`): the stack is a view
        of v, so no copies in or out. ``hermitian``: the Hermitian part of every block of the result.

        It is only computed for complex data: for real data and the ``hermitian=True`` model, a
        symmetric r gives an exactly symmetric result, as the recurrences are entrywise with
        coefficients symmetric in ``(j, k)`` (``c[j, k] = a_j + a_k``, ``beta[j, k] = t_j t_k``),
        so mirrored entries go through the same floating-point operations. (Complex products may
        be evaluated with fused multiply-adds, which breaks the exact conjugate symmetry.)
        """
        Y = v.reshape(self.H, self.D, self.D).astype(np.result_type(self.l, v), copy=False)
        Z = self.solve_stack(Y)
        if hermitian and np.iscomplexobj(Z):
            Z = 0.5 * (Z + np.swapaxes(Z, 1, 2).conj())
        return Z.reshape(-1)

    def apply(self, r):
        """``M r`` for a tuple r in frame coordinates."""
        return self.from_stack(self.apply_stack(self.to_stack(r)))

