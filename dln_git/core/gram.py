"""The Gram operator ``A_W^* A_W`` on the Lie algebra and its minimum-norm solver.

MATH.md section 2:
``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i``
``- W_i xi_{i-1} W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}``,
block-tridiagonal with Sylvester diagonal blocks, complex-linear, self-adjoint and positive
semi-definite; singular exactly where W has a non-trivial stabiliser (``ker A^*A = ker A``).

MATH.md section 3 (Newton balancing): ``Herm(A_W^* A_W s) = mu`` over Hermitian s
(:meth:`GramOperator.solve_hermitian`), with kernel ``ker A_W ∩ Hermitian``.

Preconditioners: block-Jacobi, symmetric block Gauss–Seidel, and the diagonal balanced model
(exact at balanced points, see :meth:`GramOperator.preconditioner`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .errors import ConvergenceWarning
from .gauge import _action, _action_adjoint, lie_algebra_shapes
from .krylov import pcg
from .linalg import herm, norm, pack, unpack
from .options import check_options
from .scaling import normalized, rescale, unit_scaled
from .subspaces import MAX_CONSTRAINT_ENTRIES, FactoredSubspace, TooLargeError, stabiliser_subspace
from .validation import _widths, as_lie_algebra, as_weights

__all__ = [
    "GramOperator",
    "GramSolution",
    "HermitianKernel",
    "balanced_bases",
    "gram_operator",
    "hermitian_kernel",
    "solve_gram",
]

#: Preconditioner kinds accepted by :meth:`GramOperator.preconditioner`.
PRECONDITIONERS = ("jacobi", "block_lu", "balanced")
#: Frame constructions for the ``"balanced"`` preconditioner (see :class:`GramOperator`).
FRAME_KINDS = ("polar", "qr")


@dataclass(frozen=True)
class GramSolution:
    """Result of :func:`solve_gram`, :meth:`GramOperator.solve` and
    :meth:`GramOperator.solve_hermitian`.

    Attributes
    ----------
    xi : tuple of ndarray
        The minimum-norm solution of ``A_W^* A_W xi = rhs`` (when ``min_norm``); for
        ``solve_hermitian`` the minimum-norm Hermitian s with ``Herm(A_W^* A_W s) = rhs``, and
        ``kernel_dim`` is then the real dimension of ``ker A_W ∩ Hermitian``.
    converged : bool
        Whether the true relative residual is below ``rtol``.
    iterations : int
        Preconditioned conjugate-gradient iterations.
    residual : float
        ``||A_W^* A_W xi - rhs_range|| / ||rhs||`` where ``rhs_range`` is the part of rhs in the
        range of the operator (converged: the numerator is below ``max(rtol ||rhs||, atol)``).
    kernel_dim : int or None
        ``dim ker A_W`` (the stabiliser dimension), None if it was too large to compute.
    singular : bool or None
        ``kernel_dim > 0``.
    min_norm : bool
        Whether the kernel component was projected out (the solution is then the minimum-norm one).
    rhs_outside_range : float
        ``||P_ker rhs|| / ||rhs||``: non-zero means the system was inconsistent and was solved in
        the least-squares sense (mu = A_W^*(W) is always in the range).
    message : str
    """

    xi: tuple[np.ndarray, ...]
    converged: bool
    iterations: int
    residual: float
    kernel_dim: int | None
    singular: bool | None
    min_norm: bool
    rhs_outside_range: float
    message: str


# ----------------------------------------------------------------------------------------------
# The diagonal balanced model (the "balanced" preconditioner)
# ----------------------------------------------------------------------------------------------

#: Diagonal coefficients below this fraction of the largest one are zero (pseudo-inverse).
_ZERO_DIAG_RTOL = 1e-13
#: LDL pivots below this fraction of their diagonal coefficient are zero (singular chain).
_ZERO_PIVOT_RTOL = 1e-10
#: The polar factor is computed from an eigendecomposition of ``A^* A`` (about half the cost of
#: an SVD) when ``cond(A)`` is at most this, from an SVD otherwise.
_POLAR_EIGH_MAX_COND = 1e3


def _reorthonormalise(E: np.ndarray) -> np.ndarray:
    """One Newton–Schulz step ``E (3 I - E^* E) / 2`` (squares the unitarity defect)."""
    return E @ (1.5 * np.eye(E.shape[1]) - 0.5 * (herm(E) @ E))


def _polar_factor(A: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A unitary ``E`` (shape ``(m, m)``, ``m = A.shape[0]``) with ``E^* A`` Hermitian PSD on its
    leading square block, and the singular values of A when A is square (else None).

    ``m == n``: the polar factor ``U V^*`` of ``A = U s V^*`` (unique when A is invertible),
    computed as ``A V diag(lambda)^{-1/2} V^*`` from ``A^* A = V diag(lambda) V^*`` when A is well
    conditioned (then re-orthonormalised by one Newton–Schulz step), else by an SVD.
    ``m > n``: ``[U_n V^*, U_perp]`` (``E^* A = [V s V^*; 0]``). ``m < n``: the polar factor of the
    leading ``m x m`` block ``A[:, :m]`` (the trailing columns are the weakest directions of the
    previous layer). Zero singular values leave the factor free on them; any completion is fine.
    """
    m, n = A.shape
    if m == 0:
        return np.zeros((0, 0), dtype=A.dtype), None
    if n == 0:
        return np.eye(m, dtype=A.dtype), None
    square = m == n
    if m < n:
        A = A[:, :m]
        n = m
    if square:
        C = herm(A) @ A
        lam, V = np.linalg.eigh(0.5 * (C + herm(C)))
        if lam[-1] > 0 and lam[0] >= lam[-1] / _POLAR_EIGH_MAX_COND**2:
            E = ((A @ V) * lam ** -0.5) @ herm(V)
            sv = np.sqrt(lam[::-1])
            return (_reorthonormalise(E) if lam[0] < 1e-2 * lam[-1] else E), sv
    U, sv, Vh = np.linalg.svd(A, full_matrices=m > n)
    E = U.copy()
    E[:, :n] = U[:, :n] @ Vh
    return E, (sv if square else None)


def _qr_frame(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A unitary ``E`` (shape ``(m, m)``, ``m = A.shape[0]``) and ``T = E^* A``, upper triangular
    with a real non-negative diagonal on its leading square block.

    ``m >= n``: the complete QR factorisation ``A = E T`` (Householder, stable for any A);
    ``m < n``: that of the leading ``m x m`` block ``A[:, :m]`` (as for :func:`_polar_factor`).
    At a balanced point (``A = Q [S; 0] R`` with R unitary commuting with the diagonal S) it gives
    the same diagonal ``T = [S; 0]`` as the polar factor. About half the cost of the polar factor
    (no eigendecomposition), but T is triangular instead of Hermitian, which leaves the
    ``"balanced"`` model a little less accurate away from balance.
    """
    m, n = A.shape
    if m == 0 or n == 0:
        return np.eye(m, dtype=A.dtype), A.copy()
    k = min(m, n)
    E, R = np.linalg.qr(A[:, :k], mode="complete" if m > n else "reduced")
    d = np.diagonal(R)
    mag = np.abs(d)
    phase = np.where(mag > 0, d / np.where(mag > 0, mag, 1.0), 1.0)
    E[:, :k] *= phase
    if m < n:
        return E, herm(E) @ A
    R[:k] *= phase.conj()[:, None]
    return E, R


def _gram_cond(G: np.ndarray) -> float | None:
    """``sqrt(cond(G))`` for a Gram matrix ``G = A^* A`` (the condition number of A), None when its
    smallest eigenvalue is below ``1e-12`` of the largest (then not trusted above rounding)."""
    lam = np.linalg.eigvalsh(0.5 * (G + herm(G)))
    return float(np.sqrt(lam[-1] / lam[0])) if lam[0] >= 1e-12 * lam[-1] > 0 else None


@dataclass(frozen=True)
class _Frames:
    """Unitary frames ``E_i`` of the hidden spaces and the weights in those frames.

    ``Wt = (E_1^* W_1, E_2^* W_2 E_1, ..., W_N E_{N-1})`` (the unitary gauge transform ``E^*.W``,
    whose Gram operator is ``E^* (A_W^* A_W) E`` blockwise). ``cond``: an upper bound
    ``prod_{i<N} cond(W_i)`` of the condition numbers of the partial products ``W_i..W_1`` when
    every hidden layer is no wider than the one before and the singular values are known (then
    ``ker A_W = 0`` as soon as ``cond < 1/rank_rtol``), else None.
    """

    E: tuple[np.ndarray, ...]
    Wt: tuple[np.ndarray, ...]
    cond: float | None
    identity: bool = False


def _compute_frames(W, certify: bool = True, kind: str = "polar") -> _Frames:
    """The frames of :func:`balanced_bases` (``kind="qr"``: QR factors, see :func:`_qr_frame`, in
    place of polar factors) and the weights in them; ``certify=False`` skips the condition-number
    certificate ``cond``, for callers that know ``ker A_W``."""
    H = len(W) - 1
    P1 = W[0] @ herm(W[0])
    M1 = P1 + herm(W[1]) @ W[1]
    _, U = np.linalg.eigh(0.5 * (M1 + herm(M1)))
    E = [np.ascontiguousarray(U[:, ::-1])]
    Wt = [herm(E[0]) @ W[0]]
    d1, d0 = W[0].shape
    # from eigenvalues of W_1 W_1^*: only trusted while lambda_min is well above rounding
    cond = _gram_cond(P1) if certify and d1 <= d0 and d1 else None
    for h in range(1, H):
        A = W[h] @ E[h - 1]
        if kind == "qr":
            Eh, T = _qr_frame(A)
            square = A.shape[0] == A.shape[1] and A.size
            ratio = _gram_cond(herm(T) @ T) if cond is not None and square else None
        else:
            Eh, sv = _polar_factor(A)
            T = herm(Eh) @ A
            ratio = (float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf) if sv is not None and sv.size else None
        E.append(Eh)
        Wt.append(T)
        cond = cond * ratio if cond is not None and ratio is not None else None
    Wt.append(W[H] @ E[H - 1])
    return _Frames(tuple(E), tuple(Wt), cond)


def _frames_from_bases(W, bases) -> _Frames:
    E = tuple(bases)
    H = len(E)
    Wt = [herm(E[0]) @ W[0]]
    Wt += [herm(E[h]) @ W[h] @ E[h - 1] for h in range(1, H)]
    Wt.append(W[H] @ E[H - 1])
    return _Frames(E, tuple(Wt), None)


def balanced_bases(W) -> tuple[np.ndarray, ...]:
    """Unitary frames ``E_1..E_{N-1}`` of the hidden spaces in which the Gram operator is nearly
    entrywise (exactly so at balanced points).

    ``E_1`` diagonalises ``W_1 W_1^* + W_2^* W_2`` (eigenvalues in decreasing order; using both
    sides of the first hidden layer measured 15 instead of 19 PCG iterations near balance), then
    ``E_i = polar factor of W_i E_{i-1}`` (see :func:`_polar_factor` for unequal widths), which
    makes ``T_i = E_i^* W_i E_{i-1}`` Hermitian positive semi-definite. At a balanced point
    ``W_i = Q_i S^{1/N} Q_{i-1}^*`` this gives ``E_i = [Q_i R, Q_i^perp]`` with R unitary commuting
    with S, so every ``T_i`` is exactly diagonal, even for repeated singular values (X = I):
    unlike independent eigenbases of ``W_i W_i^*``, the propagated frames stay aligned.
    Cost: N - 1 Hermitian eigendecompositions and about 6 (N - 2) matrix products (SVDs for
    ill-conditioned or non-square layers).
    """
    W = as_weights(W)
    if len(W) == 1:
        return ()
    return _compute_frames(W).E


def _check_bases(bases, widths) -> tuple[np.ndarray, ...]:
    H = len(widths) - 2
    bases = tuple(np.asarray(b) for b in bases)
    if len(bases) != H:
        raise ValueError(f"bases has {len(bases)} entries, expected {H} (one per hidden layer)")
    out = []
    for i, b in enumerate(bases, start=1):
        if b.shape != (widths[i], widths[i]):
            raise ValueError(f"bases[{i - 1}] has shape {b.shape}, expected {(widths[i], widths[i])}")
        defect = np.linalg.norm(herm(b) @ b - np.eye(b.shape[0])) if b.size else 0.0
        if defect > 1e-6:
            raise ValueError(f"bases[{i - 1}] is not unitary (||E^* E - I|| = {defect:.2e})")
        out.append(_reorthonormalise(b) if defect > 1e-14 else b)
    return tuple(out)


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


# ----------------------------------------------------------------------------------------------
# ker A_W ∩ Hermitian (the kernel of the Hermitian Newton system)
# ----------------------------------------------------------------------------------------------

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


class GramOperator(LinearOperator):
    """``A_W^* A_W`` on the packed Lie algebra (row-major ravels of ``xi_1..xi_{N-1}``).

    Applied matrix-free as ``A_W^*(A_W(xi))`` (about 4N products of d x d matrices). Use
    ``.apply(xi)`` on tuples, ``.solve(rhs)`` for the minimum-norm solution, ``.kernel()`` for
    the stabiliser algebra, ``.apply_hermitian(s)`` / ``.solve_hermitian(rhs)`` for the Hermitian
    Newton system ``Herm(A_W^* A_W s) = rhs`` over Hermitian s.

    ``bases``: unitary frames ``(E_1, ..., E_{N-1})`` for the ``"balanced"`` preconditioner, instead
    of computing :func:`balanced_bases` of W (N - 1 eigendecompositions). Any unitary frames give
    a valid (symmetric positive semi-definite) preconditioner; good ones nearly diagonalise W.
    Frames of a nearby operator (``previous_op.balanced_bases()``) save the eigendecompositions
    but measured worse overall in a Newton loop (the model is exact only in fresh frames).

    ``frame_kind``: ``"polar"`` (default, :func:`balanced_bases`) or ``"qr"``: ``E_i`` the Q factor
    of ``W_i E_{i-1}`` instead of its polar factor (:func:`_qr_frame`), the same at balanced points
    and about half the cost (N - 2 QR factorisations instead of eigendecompositions), but a less
    accurate model away from balance (N = 8, d = 128, rtol 1e-10: 133 against 104 PCG iterations
    at c = 0.75, 20 against 16 at c = 0.1). For loose solves near balance (inexact Newton steps:
    the same PCG iterations at N = 8, d = 256) it is the cheaper choice.

    ``trivial_kernel=True``: the caller knows ``ker A_W = 0`` (not checked), e.g. along a gauge
    orbit ``g.W`` of a point where it was computed (``stab(g.W) = g stab(W) g^{-1}`` has constant
    dimension), which skips :func:`stabiliser_subspace` (2N - 2 SVDs of partial products) when
    no cheap certificate is available (see :meth:`kernel`).
    """

    def __init__(self, W, *, rank_rtol: float = 1e-10, bases=None, trivial_kernel: bool = False,
                 frame_kind: str = "polar"):
        rank_rtol, trivial_kernel = check_options(rank_rtol=rank_rtol, trivial_kernel=trivial_kernel)
        W = as_weights(W)
        self.weights = W
        self.widths = _widths(W)
        self.shapes = lie_algebra_shapes(self.widths)
        self.rank_rtol = rank_rtol
        n = sum(d * d for d, _ in self.shapes)
        super().__init__(dtype=W[0].dtype, shape=(n, n))
        self._precond: dict = {}
        self._kernel: FactoredSubspace | None = None
        self._kernel_error: str | None = None
        self._herm_kernel: dict = {}
        self._frames: _Frames | None = None
        self._inner: GramOperator | None = None
        self._trivial_kernel = bool(trivial_kernel)
        if frame_kind not in FRAME_KINDS:
            raise ValueError(f"frame_kind must be one of {FRAME_KINDS}, got {frame_kind!r}")
        self._frame_kind = frame_kind
        if bases is not None and self.shapes:
            self._frames = _frames_from_bases(W, _check_bases(bases, self.widths))

    def apply(self, xi) -> tuple[np.ndarray, ...]:
        """``A_W^*(A_W(xi))`` for a tuple ``xi``."""
        return _action_adjoint(self.weights, _action(self.weights, xi))

    def apply_hermitian(self, s) -> tuple[np.ndarray, ...]:
        """``Herm(A_W^* A_W s)`` (``Herm(M) = (M + M^*)/2``), the Newton operator on Hermitian s.

        For Hermitian s it is self-adjoint and positive semi-definite for the real inner product
        ``<A, B> = Re tr(A^* B)`` (``<s', Herm(A^*A s)> = Re <A s', A s>``), with kernel
        ``ker A_W ∩ Hermitian``; it is real-linear, not complex-linear.
        """
        return tuple(herm_part(m) for m in self.apply(s))

    def _matvec(self, v):
        v = np.ravel(v)
        return pack(self.apply(unpack(v, self.shapes))) if v.size else v.copy()

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self

    def frames(self) -> _Frames:
        """Frames of the ``"balanced"`` preconditioner and the weights written in them (cached)."""
        if self._frames is None:
            self._frames = _compute_frames(self.weights, certify=not self._trivial_kernel, kind=self._frame_kind)
        return self._frames

    def balanced_bases(self) -> tuple[np.ndarray, ...]:
        """The frames ``E_i`` of the ``"balanced"`` preconditioner (see :func:`balanced_bases`)."""
        return self.frames().E if self.shapes else ()

    def in_frames(self) -> GramOperator:
        """The same operator written in the frames ``E``: the Gram operator of
        ``Wt = (E_1^* W_1, E_2^* W_2 E_1, ..., W_N E_{N-1})``, ``xi -> (E_i^* xi_i E_i)`` being
        unitary. Solving there makes the ``"balanced"`` preconditioner free of matrix products
        (per PCG iteration: one Gram application, about 4N products, instead of 8N)."""
        if self._inner is None:
            F = self.frames()
            if F.identity:
                self._inner = self
            else:
                inner = GramOperator(F.Wt, rank_rtol=self.rank_rtol, trivial_kernel=self._trivial_kernel)
                eye = tuple(np.eye(d, dtype=E.dtype) for d, E in zip(self.widths[1:-1], F.E, strict=True))
                inner._frames = _Frames(eye, inner.weights, F.cond, identity=True)
                self._inner = inner
        return self._inner

    def preconditioner(self, kind: str = "block_lu", *, hermitian: bool = False):
        """Preconditioner ``r -> M^{-1} r`` on tuples, built once per operator and kind.

        ``"jacobi"`` and ``"block_lu"`` work in the eigenbases of the diagonal (Sylvester) blocks
        ``xi -> Q_i xi + xi P_i``, ``P_i = W_i W_i^* = U_i diag(p) U_i^*``,
        ``Q_i = W_{i+1}^* W_{i+1} = V_i diag(q) V_i^*``, where block i is the diagonal
        ``D_i[a, b] = q_a + p_b`` on the coordinates ``V_i^* xi_i U_i``.

        * ``"jacobi"``: block-Jacobi, the exact inverse of every diagonal block.
        * ``"block_lu"`` (default): symmetric block Gauss–Seidel ``M = (S + L) S^{-1} (S + L^*)``
          for the block-tridiagonal operator (L its lower blocks ``xi_{i-1} -> -W_i xi_{i-1} W_i^*``),
          with the Schur complements ``S_i = D_i - L_i S_{i-1}^{-1} L_i^*`` approximated by their
          diagonals in those eigenbases: ``S_i = D_i - |A_i|^2 S_{i-1}^{-1} (|B_i|^2)^T``
          (entrywise squares, ``A_i = V_i^* W_i V_{i-1}``, ``B_i = U_i^* W_i U_{i-1}``), kept above
          ``D_i / 100``. About half the CG iterations of block-Jacobi for 1.4 times the cost.
          Coordinates with ``D_i = 0`` (below 1e-13 of the largest) belong to ``ker A_W`` and are
          left out (pseudo-inverse), so M is symmetric positive semi-definite with
          ``ker M ⊆ ker A_W``.
        * ``"balanced"``: the Moore–Penrose inverse of the *diagonal balanced model*. In one
          unitary frame ``E_i`` per hidden space (:meth:`balanced_bases`: ``E_1`` the eigenbasis
          of ``W_1 W_1^* + W_2^* W_2``, then ``E_i`` the polar factor of ``W_i E_{i-1}``), with
          ``eta_i = E_i^* xi_i E_i``, the model keeps the diagonal of every block of the
          operator in the bases ``E_i ⊗ E_i``::

              (M eta)_i[j,k] = (a_i[k] + b_i[j]) eta_i[j,k] - t_i[j] conj(t_i[k]) eta_{i-1}[j,k]
                               - conj(t_{i+1}[j]) t_{i+1}[k] eta_{i+1}[j,k]

          with ``a_i[k] = ||W_i^* E_i e_k||^2``, ``b_i[j] = ||W_{i+1} E_i e_j||^2`` and
          ``t_i = diag(E_i^* W_i E_{i-1})`` (zero-padded for unequal widths): ``d^2`` independent
          tridiagonal systems of size N - 1, solved by a batched Thomas algorithm in ``O(N d^2)``
          plus four ``d x d`` products per hidden layer for the changes of basis. It is symmetric
          positive semi-definite for any frames (the exact Gram operator of the diagonal network
          ``t`` plus a non-negative diagonal, because ``(T T^*)[k,k] >= |T[k,k]|^2``). At a
          balanced point ``W_i = Q_i S^{1/N} Q_{i-1}^*`` these frames make ``W_i W_i^*``,
          ``W_{i+1}^* W_{i+1}`` and ``E_i^* W_i E_{i-1}`` diagonal (eigenvalues ``lambda``), the
          model is the operator (``eta_i (lambda_j + lambda_k) - sqrt(lambda_j lambda_k)
          (eta_{i-1} + eta_{i+1})``) and ``M^{-1} = (A_W^* A_W)^+`` exactly, also for repeated or
          zero singular values and unequal widths. Near balance it is nearly exact: PCG needs a
          handful of iterations. Zero coefficients and zero pivots of singular chains are
          handled as a pseudo-inverse (see ``_BalancedModel``).

        ``hermitian=True``: the preconditioner of ``s -> Herm(A_W^* A_W s)`` on Hermitian s,
        mapping Hermitian to Hermitian. For ``"balanced"`` it inverts the Hermitian-restricted
        model (the diagonal coefficient averaged over ``(j, k) <-> (k, j)``, exact at balanced
        points); for the others it is ``Herm(M^{-1} r)``, which is symmetric positive
        semi-definite on Hermitian tuples because ``M^{-1}`` is Hermitian.
        """
        if kind not in PRECONDITIONERS:
            raise ValueError(f"preconditioner kind must be one of {PRECONDITIONERS}, got {kind!r}")
        key = (kind, bool(hermitian))
        if key not in self._precond:
            if kind == "balanced":
                F = self.frames()
                model = _BalancedModel(F.Wt, hermitian=bool(hermitian))
                if F.identity:
                    base = model
                else:

                    def base(r, _m=model, _E=F.E):
                        y = _m(tuple(herm(E) @ x @ E for E, x in zip(_E, r, strict=True)))
                        return tuple(E @ x @ herm(E) for E, x in zip(_E, y, strict=True))

                if hermitian:

                    def M(r, _b=base):
                        return tuple(herm_part(x) for x in _b(r))
                else:
                    M = base
                if F.identity and model.packable:
                    M = _Preconditioner(M, functools.partial(model.solve_packed, hermitian=bool(hermitian)))
            elif hermitian:
                base = self.preconditioner(kind)

                def M(r, _b=base):
                    return tuple(herm_part(x) for x in _b(r))
            else:
                M = self._build_preconditioner(kind)
            self._precond[key] = M
        return self._precond[key]

    def _build_preconditioner(self, kind: str):
        W = self.weights
        H = len(W) - 1
        U, V, D = [], [], []
        for k in range(H):
            p, Uk = np.linalg.eigh(W[k] @ herm(W[k]))
            q, Vk = np.linalg.eigh(herm(W[k + 1]) @ W[k + 1])
            U.append(Uk)
            V.append(Vk)
            D.append(q[:, None] + p[None, :])
        top = max((Dk.max() for Dk in D), default=1.0)
        lu = kind == "block_lu"
        A = [None] + [herm(V[k]) @ W[k] @ V[k - 1] for k in range(1, H)] if lu else []
        B = [None] + [herm(U[k]) @ W[k] @ U[k - 1] for k in range(1, H)] if lu else []
        Sinv = []
        for k in range(H):
            Sk = D[k]
            if lu and k > 0:
                coupling = (np.abs(A[k]) ** 2) @ Sinv[k - 1] @ (np.abs(B[k]) ** 2).T
                Sk = np.maximum(D[k] - coupling, 1e-2 * D[k])
            inv = np.zeros_like(Sk)
            keep = D[k] > 1e-13 * top
            inv[keep] = 1.0 / Sk[keep]
            Sinv.append(inv)

        def jacobi(r):
            return tuple(
                V[k] @ ((herm(V[k]) @ r[k] @ U[k]) * Sinv[k]) @ herm(U[k]) for k in range(H)
            )

        def block_lu(r):
            w = []
            for k in range(H):
                y = herm(V[k]) @ r[k] @ U[k]
                if k > 0:
                    y = y + A[k] @ w[k - 1] @ herm(B[k])
                w.append(y * Sinv[k])
            x = w[:]
            for k in range(H - 2, -1, -1):
                x[k] = w[k] + (herm(A[k + 1]) @ x[k + 1] @ B[k + 1]) * Sinv[k]
            return tuple(V[k] @ x[k] @ herm(U[k]) for k in range(H))

        return block_lu if lu else jacobi

    def _resolve_preconditioner(self, preconditioner, hermitian: bool):
        if callable(preconditioner):
            return preconditioner
        return self.preconditioner(preconditioner, hermitian=hermitian)

    def kernel(self) -> FactoredSubspace | None:
        """``ker A_W`` (the stabiliser algebra), or None if too large to compute densely.

        Fast path: when the frames are already computed and certify that every partial product
        ``W_i..W_1`` has full row rank (hidden widths non-increasing, ``prod_{i<N} cond(W_i)``
        below ``1e-2 / rank_rtol``), the kernel is ``{0}`` (``xi_i W_i..W_1 = 0`` forces
        ``xi_i = 0``) and :func:`stabiliser_subspace` (2N - 2 SVDs of partial products) is skipped.
        """
        if self._kernel is None and self._kernel_error is None:
            F = self._frames
            if self._trivial_kernel or (F is not None and F.cond is not None and F.cond <= 1e-2 / self.rank_rtol):
                dt = self.weights[0].dtype
                empty = tuple(np.zeros((d, 0), dtype=dt) for d in self.widths[1:-1])
                self._kernel = FactoredSubspace(empty, empty, np.zeros((0, 0), dtype=dt))
                return self._kernel
            try:
                self._kernel = stabiliser_subspace(self.weights, self.rank_rtol)
            except TooLargeError as exc:
                self._kernel_error = str(exc)
        return self._kernel

    def _solve_in_frames(self, method: str, rhs, x0, **kw) -> GramSolution:
        """Solve in the frames E (see :meth:`in_frames`) and map the solution back."""
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        inner = self.in_frames()
        E = self.frames().E

        def to(mats):
            return tuple(herm(e) @ m @ e for e, m in zip(E, mats, strict=True))

        if x0 is not None:
            x0 = to(as_lie_algebra(x0, self.widths, "x0"))
        sol = getattr(inner, method)(to(rhs), x0=x0, preconditioner="balanced", **kw)
        xi = tuple(e @ x @ herm(e) for e, x in zip(E, sol.xi, strict=True))
        if method == "solve_hermitian":
            xi = tuple(herm_part(x) for x in xi)
        return dataclasses.replace(sol, xi=xi)

    def hermitian_kernel(self, complex_: bool | None = None) -> HermitianKernel | None:
        """``ker A_W ∩ {Hermitian tuples}`` (real-linear; see :func:`hermitian_kernel`), or None
        if ``ker A_W`` or its Hermitian part is too large to compute densely.

        ``complex_``: complex Hermitian (default when W is complex) or real symmetric tuples. For
        real W and complex Hermitian tuples the kernel also contains ``i`` times the real
        antisymmetric elements of ``ker A_W``.
        """
        complex_ = np.iscomplexobj(self.weights[0]) if complex_ is None else bool(complex_)
        if complex_ not in self._herm_kernel:
            K = self.kernel()
            if K is None:
                self._herm_kernel[complex_] = (None, f"ker A_W not computed: {self._kernel_error}")
            else:
                try:
                    self._herm_kernel[complex_] = (hermitian_kernel(K, complex_, self.rank_rtol), None)
                except TooLargeError as exc:
                    self._herm_kernel[complex_] = (None, f"Hermitian part of ker A_W not computed: {exc}")
        return self._herm_kernel[complex_][0]

    @property
    def action_norm_bound(self) -> float:
        """Upper bound ``2 max_i ||W_i||_F`` of the operator norm of ``A_W`` (so ``||A^*A|| <= bound^2``)."""
        return 2.0 * max(float(np.linalg.norm(w)) for w in self.weights)

    def solve(
        self, rhs, rtol: float = 1e-10, maxiter: int | None = None, *, atol: float = 0.0,
        preconditioner="block_lu", x0=None,
    ) -> GramSolution:
        """Minimum-norm solution of ``A_W^* A_W xi = rhs`` (see :func:`solve_gram`).

        ``preconditioner``: a kind of :meth:`preconditioner` or a callable on tuples (symmetric
        positive semi-definite, e.g. one built on a nearby operator). ``x0``: warm start (a tuple
        like rhs, e.g. the solution at the previous iterate); the result is the same
        minimum-norm solution, in fewer iterations when x0 is close.

        Choice (benchmarks/bench_gram_precond.py, N = 8): ``"block_lu"`` stays the default
        because the entrywise model misses the non-Hermitian near-stabiliser directions
        (``xi_i ~ W_i xi_{i-1} W_i^{-1}``) that make ``A^*A`` ill-conditioned far from balance
        (g.W_bal with c = 0.75: 890 iterations against 121 at d = 256; Gaussian weights: no
        convergence in 2000). Near balance (c = 0.1) ``"balanced"`` takes a few more iterations
        (22 against 17) at under half the cost per iteration (PCG runs in the frames, the
        preconditioner costs no matrix product) and wins on time.
        """
        rtol, atol, maxiter = check_options(rtol=rtol, atol=atol, maxiter=maxiter)
        if not self.shapes:
            as_lie_algebra(rhs, self.widths, "rhs")
            return GramSolution((), True, 0, 0.0, 0, False, True, 0.0, "depth 1: empty Lie algebra")
        if isinstance(preconditioner, str) and preconditioner == "balanced" and not self.frames().identity:
            return self._solve_in_frames("solve", rhs, x0, rtol=rtol, maxiter=maxiter, atol=atol)
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        dtype = np.result_type(self.dtype, *rhs)
        rhs = tuple(r.astype(dtype, copy=False) for r in rhs)
        K = self.kernel()
        missing = "" if K is not None else f"kernel not computed ({self._kernel_error})"
        return self._pcg_min_norm(
            self._matvec, rhs, K, self._resolve_preconditioner(preconditioner, hermitian=False),
            project_preconditioner=preconditioner == "balanced", rtol=rtol, atol=atol, maxiter=maxiter,
            x0=None if x0 is None else as_lie_algebra(x0, self.widths, "x0"), finish=np.array,
            kernel_name="stabiliser of dimension", missing_kernel=missing,
        )

    def _pcg_min_norm(self, matvec, rhs, K, M, *, project_preconditioner, rtol, atol, maxiter, x0, finish,
                      kernel_name, missing_kernel, verify: bool = True) -> GramSolution:
        """PCG on the range of a PSD operator with kernel K, then K projected out: the min-norm solution.

        ``rhs`` and ``x0`` are tuples; ``finish`` maps each solution block (e.g. to its Hermitian
        part); ``K`` None means the kernel was not computed (``missing_kernel`` says why).
        """
        rnorm = norm(rhs)
        outside = 0.0
        if K is not None and K.dim > 0 and rnorm > 0:
            rk = K.project(rhs)
            outside = norm(rk) / rnorm
            rhs = tuple(r - k for r, k in zip(rhs, rk, strict=True))
        if project_preconditioner and K is not None and K.dim > 0:
            M = _range_projected(M, K)
        shapes = self.shapes
        res = pcg(
            matvec,
            pack(rhs),
            getattr(M, "on_packed", None) or (lambda v: pack(M(unpack(v, shapes)))),
            rtol=0.0,
            atol=max(rtol * rnorm, atol),
            maxiter=maxiter,
            x0=None if x0 is None else pack(x0),
            verify=verify,
        )
        xi = tuple(finish(m) for m in unpack(res.x, shapes))
        if K is not None and K.dim > 0:
            xi = tuple(x - k for x, k in zip(xi, K.project(xi), strict=True))
        residual = res.residual * norm(rhs) / rnorm if rnorm else 0.0
        kdim = None if K is None else K.dim
        parts = [_convergence_message(res.converged, res.iterations, residual, rtol, atol)]
        if kdim is None:
            parts.append(f"{missing_kernel}: solution is not min-norm")
        elif kdim > 0:
            parts.append(f"operator singular: {kernel_name} {kdim} projected out")
        if outside > 1e-8:
            parts.append(f"rhs has {outside:.2e} of its norm outside the range (least squares)")
        finite = bool(np.isfinite(residual)) and all(np.isfinite(x).all() for x in xi)
        if not finite:
            parts.insert(0, "non-finite solution")
        return GramSolution(
            xi, bool(res.converged) and finite, res.iterations, float(residual), kdim,
            None if kdim is None else kdim > 0, K is not None, float(outside), "; ".join(parts),
        )

    def solve_hermitian(
        self, rhs, rtol: float = 1e-10, *, atol: float = 0.0, maxiter: int | None = None, x0=None,
        preconditioner="balanced", verify: bool = True,
    ) -> GramSolution:
        """Minimum-norm Hermitian solution of the Newton system ``Herm(A_W^* A_W s) = rhs``.

        MATH.md section 3: along ``exp(t s).W`` (s Hermitian), ``d mu = 2 Herm(A_W^* A_W s)``, so
        the geodesic Newton step ``W <- exp(-s/2).W`` solves this system with ``rhs = mu(W)``.
        The operator is real-linear, symmetric positive semi-definite on Hermitian tuples for
        ``<A, B> = Re tr(A^* B)``, with kernel ``ker A_W ∩ Hermitian`` (``ker A_W`` itself is not
        closed under ``^*``); it is solved by PCG over Hermitian tuples (real symmetric ones
        for real W and rhs) with the Hermitian form of ``preconditioner`` (default
        ``"balanced"``, exact at balanced points, see :meth:`preconditioner`; N = 8, d = 256:
        105 iterations against 456 for ``Herm(block_lu)`` on g.W_bal with c = 0.75, 16 against 15
        near balance at half the cost per iteration, 75 against more than 2000 on Gaussian
        weights). With ``"balanced"`` the iteration runs in the frames of the model (the operator
        of ``E^*.W``, see :meth:`in_frames`): one Gram application (about 4N matrix products)
        per iteration, plus N - 1 eigendecompositions to build the frames.

        Near balance the model is exact to first order, so ``s = M^+ mu`` with
        ``M = self.preconditioner("balanced", hermitian=True)`` (no Gram application at all) is
        itself a superlinearly convergent Newton step (measured: ||mu||/R 5e-3, 9e-4, 7e-5, 7e-7,
        1.5e-10 at d = 256).

        Minimum norm: the Hermitian kernel is computed densely from the factored ``ker A_W``
        (:meth:`hermitian_kernel`) when that is small enough, projected out of rhs and of the
        result; otherwise the message says it was not computed and ``min_norm`` is False.

        Parameters
        ----------
        rhs : tuple of Hermitian ndarray
            Raises ValueError if its skew-Hermitian part exceeds ``1e-8 ||rhs||`` (and
            ``1e-12 max_i ||W_i||_F^2``, the rounding level of a moment map); smaller skew parts
            are dropped.
        rtol, atol : float
            Stop when ``||Herm(A^*A s) - rhs|| <= max(rtol ||rhs||, atol)`` (range part of rhs).
        x0 : tuple of ndarray, optional
            Warm start (its Hermitian part is used).
        preconditioner : str or callable
            A kind of :meth:`preconditioner` (used with ``hermitian=True``) or a callable mapping
            Hermitian tuples to Hermitian tuples, symmetric positive semi-definite.
        verify : bool
            False: trust PCG's recursively updated residual (saves one Gram application; see
            :func:`dln_git.core.krylov.pcg`), for callers that check their own progress.

        Returns
        -------
        GramSolution
            ``xi`` is the Hermitian solution s; ``kernel_dim`` is the *real* dimension of
            ``ker A_W ∩ Hermitian`` (None if not computed) and ``singular`` says whether it is
            positive; ``rhs_outside_range`` is the relative part of rhs in that kernel.
        """
        rtol, atol, maxiter, verify = check_options(rtol=rtol, atol=atol, maxiter=maxiter, verify=verify)
        if not self.shapes:
            as_lie_algebra(rhs, self.widths, "rhs")
            return GramSolution((), True, 0, 0.0, 0, False, True, 0.0, "depth 1: empty Lie algebra")
        if isinstance(preconditioner, str) and preconditioner == "balanced" and not self.frames().identity:
            return self._solve_in_frames("solve_hermitian", rhs, x0, rtol=rtol, maxiter=maxiter, atol=atol,
                                         verify=verify)
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        dtype = np.result_type(self.dtype, *rhs)
        rhs = tuple(r.astype(dtype, copy=False) for r in rhs)
        rnorm = norm(rhs)
        skew = norm([0.5 * (r - herm(r)) for r in rhs])
        scale = max(float(np.linalg.norm(w)) ** 2 for w in self.weights)
        if skew > max(1e-8 * rnorm, 1e-12 * scale):
            raise ValueError(
                f"rhs must be Hermitian: its skew-Hermitian part has norm {skew:.3e} "
                f"(relative {skew / rnorm:.3e}); Herm(A^*A s) is always Hermitian"
            )
        rhs = tuple(herm_part(r) for r in rhs)
        rnorm = norm(rhs)
        complex_ = np.iscomplexobj(np.empty(0, dtype=dtype))
        HK = self.hermitian_kernel(complex_)
        shapes = self.shapes
        return self._pcg_min_norm(
            lambda v: pack(self.apply_hermitian(unpack(v, shapes))), rhs, HK,
            self._resolve_preconditioner(preconditioner, hermitian=True),
            project_preconditioner=preconditioner == "balanced", rtol=rtol, atol=atol, maxiter=maxiter,
            x0=None if x0 is None else [herm_part(x) for x in as_lie_algebra(x0, self.widths, "x0")],
            finish=herm_part, verify=verify,
            kernel_name="Hermitian kernel of real dimension",
            missing_kernel="" if HK is not None else str(self._herm_kernel[complex_][1]),
        )


@dataclass(frozen=True)
class _Preconditioner:
    """``r -> M r`` on tuples, with the same map on packed vectors (``on_packed``, no copies)."""

    on_tuples: Callable
    on_packed: Callable

    def __call__(self, r):
        return self.on_tuples(r)


def _range_projected(M, K):
    """``r -> P M(P r)`` with ``P = I - P_K`` the projection onto the range of the operator.

    The one-sided frames of the balanced model cannot hold ``ker A_W`` exactly away from balanced
    points (``ker W_{i+1}`` and ``range(W_i)^⊥`` differ there), so the model has coefficients of
    order ``delta^2`` on directions at distance ``delta`` from the kernel; its inverse then maps
    range vectors to components of size ``1/delta`` along the kernel, which ruins the
    conditioning (measured: PCG stalls near balanced points of (2, 4, 4, 2)-type patterns). The
    congruence ``P M P`` removes those components and stays symmetric positive semi-definite.
    """

    def projected(r):
        r = tuple(x - k for x, k in zip(r, K.project(r), strict=True))
        y = M(r)
        return tuple(x - k for x, k in zip(y, K.project(y), strict=True))

    return projected


def herm_part(M: np.ndarray) -> np.ndarray:
    """``Herm(M) = (M + M^*) / 2``."""
    return 0.5 * (M + herm(M))


def _convergence_message(converged: bool, iterations: int, residual: float, rtol: float, atol: float) -> str:
    if converged:
        return f"converged in {iterations} iterations"
    return (
        f"did not converge: relative residual {residual:.2e} > rtol {rtol:.1e}"
        + (f" (atol {atol:.1e})" if atol else "")
        + f" after {iterations} iterations"
    )


def gram_operator(W, *, rank_rtol: float = 1e-10, bases=None, trivial_kernel: bool = False) -> GramOperator:
    """The Gram operator ``A_W^* A_W`` as a ``scipy.sparse.linalg.LinearOperator``.

    ``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1} W_i^*
    - W_{i+1}^* xi_{i+1} W_{i+1}``, acting on ``pack(xi)`` (row-major ravels of
    ``xi_1, ..., xi_{N-1}`` concatenated). Shape ``(0, 0)`` for depth 1. ``bases``: frames for
    the ``"balanced"`` preconditioner, ``trivial_kernel``: see :class:`GramOperator`.
    """
    rank_rtol, trivial_kernel = check_options(rank_rtol=rank_rtol, trivial_kernel=trivial_kernel)
    return GramOperator(W, rank_rtol=rank_rtol, bases=bases, trivial_kernel=trivial_kernel)


def solve_gram(W, rhs, rtol: float = 1e-10, *, atol: float = 0.0, maxiter: int | None = None,
               rank_rtol: float = 1e-10, preconditioner="block_lu", x0=None) -> GramSolution:
    """Minimum-norm solution of ``A_W^* A_W xi = rhs``, matrix-free.

    Preconditioned conjugate gradients with the symmetric block Gauss–Seidel preconditioner of
    :meth:`GramOperator.preconditioner` (``preconditioner="jacobi"`` for block-Jacobi,
    ``"balanced"`` for the diagonal balanced model, nearly exact near balanced points). PCG
    returns the solution of least preconditioner-weighted norm, not the minimum Euclidean norm,
    so the stabiliser algebra
    ``ker A_W`` (computed exactly, see :func:`dln_git.core.subspaces.stabiliser_subspace`) is
    projected out of the rhs and of the result: the returned xi is ``(A_W^* A_W)^+ rhs``.

    Parameters
    ----------
    W : weights
    rhs : tuple of ndarray
        A Lie algebra element ``(r_1, ..., r_{N-1})`` (e.g. the moment map).
    rtol, atol : float
        Stop when ``||A_W^* A_W xi - rhs|| <= max(rtol ||rhs||, atol)`` (on the range part of rhs).
    x0 : tuple of ndarray, optional
        Warm start for the conjugate gradients.

    Returns
    -------
    GramSolution
        With ``singular``/``kernel_dim`` saying whether the operator is singular. A warning
        (:class:`ConvergenceWarning`) is issued if the tolerance was not reached.
    """
    rtol, atol, maxiter, rank_rtol = check_options(rtol=rtol, atol=atol, maxiter=maxiter, rank_rtol=rank_rtol)
    W = as_weights(W)
    rhs = as_lie_algebra(rhs, _widths(W), "rhs")
    # A_{cW}^* A_{cW} = c^2 A_W^* A_W and the solution is linear in rhs: solve at scale 1.
    Wn, s = normalized(W)
    rhs_unit, e = unit_scaled(rhs)
    log2_s = round(math.log2(s))  # s is a power of two; xi = 2^e xi_unit / s^2
    x0_unit = None if x0 is None else rescale(
        tuple(np.asarray(x) for x in as_lie_algebra(x0, _widths(W), "x0")), 2.0, 2 * log2_s - e, "x0")
    sol = GramOperator(Wn, rank_rtol=rank_rtol).solve(
        rhs_unit, rtol=rtol, maxiter=maxiter, atol=math.ldexp(atol, -e), preconditioner=preconditioner, x0=x0_unit,
    )
    sol = dataclasses.replace(sol, xi=rescale(sol.xi, 2.0, e - 2 * log2_s, "xi"))
    if not bool(np.isfinite(sol.residual)) or not all(np.isfinite(x).all() for x in sol.xi):
        sol = dataclasses.replace(sol, converged=False, message=sol.message + "; non-finite result")
    if not sol.converged:
        warnings.warn(f"solve_gram {sol.message}", ConvergenceWarning, stacklevel=2)
    return sol
