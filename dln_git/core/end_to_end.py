"""The end-to-end map ``phi(W) = W_N...W_1``, its differential, adjoint and metric.

docs/math sections 1-2:

* ``dphi_W(dW) = sum_j (W_N..W_{j+1}) dW_j (W_{j-1}..W_1)``
* ``dphi_W^*(Z)_j = (W_N..W_{j+1})^* Z (W_{j-1}..W_1)^*``
* ``dphi dphi^*(Z) = sum_j (W_N..W_{j+1})(W_N..W_{j+1})^* Z (W_{j-1}..W_1)^*(W_{j-1}..W_1)``

Everything is matrix-free: O(N d^3) per application, never the Jacobian.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .errors import ConvergenceWarning
from .krylov import KrylovResult, pcg
from .linalg import herm
from .options import check_options
from .scaling import normalized, rescale
from .validation import _widths, as_matrix, as_tangent, as_weights

__all__ = [
    "EndToEndMetric",
    "MetricSolution",
    "backward_products",
    "end_to_end",
    "end_to_end_differential",
    "end_to_end_differential_adjoint",
    "end_to_end_metric",
    "forward_products",
    "product_rounding_level",
    "solve_end_to_end_metric",
]


def forward_products(W) -> list[np.ndarray | None]:
    """``F_j = W_j...W_1`` for j = 0..N, with ``F_0 = None`` standing for the identity."""
    F: list[np.ndarray | None] = [None, W[0]]
    for Wj in W[1:]:
        F.append(Wj @ F[-1])
    return F


def backward_products(W) -> list[np.ndarray | None]:
    """``B_j = W_N...W_{j+1}`` for j = 0..N, with ``B_N = None`` standing for the identity."""
    N = len(W)
    B: list[np.ndarray | None] = [None] * (N + 1)
    if N >= 1:
        B[N - 1] = W[N - 1]
    for j in range(N - 2, -1, -1):
        B[j] = B[j + 1] @ W[j]
    return B


def product_rounding_level(W, *, x_norm: float | None = None, capped: bool = True) -> float:
    """The rounding level of a computed ``X = W_N...W_1``: below it, ``||X||`` cannot be told from 0.

    The product formed from the right errs by at most about ``eps sum_j ||B_j|| ||W_j|| ||F_{j-1}||``
    (the rounding of each multiplication, carried by the later factors; ``B_j``, ``F_j`` as in
    :func:`backward_products` and :func:`forward_products`, identities counted as 1). With
    Frobenius norms and a factor 4 this is the level, capped by the cruder
    ``4 N eps prod_j ||W_j||_2``. The partial products matter for gauged layers
    ``g_j W_j g_{j-1}^{-1}``: there ``prod_j ||W_j||`` exceeds ``||X||`` by the gauges' condition
    numbers multiplied over the depth (about 1e22 at depth 32 for ``cond(g_j)`` about 5), while the
    partial products stay within a few ``cond(g_j)^2`` of ``||X||``. Zero for a zero-size layer.

    With ``x_norm`` (the caller's ``||X||``, to be compared with the level) the partial-product
    level is returned at once when ``x_norm`` exceeds it: the cap can only lower the level, so
    ``x_norm > level`` is decided without the N spectral norms (one SVD each, the larger part of
    the cost: 2.6 ms of Newton's 25 ms at N = 32, d = 32). ``capped=False``: the partial-product
    level alone (the cap where that is not finite), without the SVDs.
    """
    if any(w.size == 0 for w in W):
        return 0.0
    eps = np.finfo(float).eps
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        F, B = forward_products(W), backward_products(W)

        def size(M):
            return 1.0 if M is None else float(np.linalg.norm(M))

        fine = 4 * eps * sum(size(B[j]) * float(np.linalg.norm(W[j - 1])) * size(F[j - 1])
                             for j in range(1, len(W) + 1))
    if np.isfinite(fine) and (not capped or (x_norm is not None and x_norm > fine)):
        return fine
    crude = 4 * len(W) * eps * float(np.prod([np.linalg.norm(w, 2) for w in W]))
    return min(crude, fine) if np.isfinite(fine) else crude


def _end_to_end(W) -> np.ndarray:
    X = W[0]
    for Wj in W[1:]:
        X = Wj @ X
    return X


def end_to_end(W) -> np.ndarray:
    """End-to-end map ``X = phi(W) = W_N W_{N-1}...W_1``, shape ``(d_N, d_0)``.

    Parameters
    ----------
    W : sequence of arrays
        Weights ``(W_1, ..., W_N)``, ``W_i`` of shape ``(d_i, d_{i-1})``.

    Computed at scale 1 and multiplied by ``s^N``; a ``ValueError`` says so when X itself is not
    representable in float64 (e.g. ``N = 8`` layers of norm 1e50).
    """
    Wn, s = normalized(as_weights(W))
    return rescale(_end_to_end(Wn), s, len(Wn), "X = phi(W)")


def _promoted(mats, dtype) -> tuple[np.ndarray, ...]:
    """``mats`` in the common dtype of ``mats`` and ``dtype`` (real data at complex weights)."""
    return tuple(m.astype(np.result_type(m, dtype), copy=False) for m in mats)


def _differential(W, dW) -> np.ndarray:
    T, F = dW[0], W[0]
    for Wj, dWj in zip(W[1:], dW[1:], strict=True):
        T = Wj @ T + dWj @ F
        F = Wj @ F
    return T


def end_to_end_differential(W, dW) -> np.ndarray:
    """Differential of phi: ``dphi_W(dW) = sum_j (W_N..W_{j+1}) dW_j (W_{j-1}..W_1)``.

    Computed by the forward recursion ``T_1 = dW_1``, ``T_j = W_j T_{j-1} + dW_j F_{j-1}``.
    """
    W = as_weights(W)
    dW = _promoted(as_tangent(dW, _widths(W), "dW"), W[0].dtype)
    Wn, s = normalized(W)
    return rescale(_differential(Wn, dW), s, len(W) - 1, "dphi_W(dW)").copy()


def _differential_adjoint(W, Z, F=None) -> tuple[np.ndarray, ...]:
    N = len(W)
    if F is None:
        F = forward_products(W)
    out: list[np.ndarray] = [None] * N  # type: ignore[list-item]
    M = Z  # M = (W_N..W_{j+1})^* Z, shape (d_j, d_0)
    for j in range(N, 0, -1):
        out[j - 1] = M if j == 1 else M @ herm(F[j - 1])
        if j > 1:
            M = herm(W[j - 1]) @ M
    return tuple(out)


def end_to_end_differential_adjoint(W, Z) -> tuple[np.ndarray, ...]:
    """Adjoint of the differential: ``dphi_W^*(Z)_j = (W_N..W_{j+1})^* Z (W_{j-1}..W_1)^*``.

    ``Z`` has the shape ``(d_N, d_0)`` of X. Returns a weight-shaped tuple.
    """
    W = as_weights(W)
    widths = _widths(W)
    Z = as_matrix(Z, "Z")
    if Z.shape != (widths[-1], widths[0]):
        raise ValueError(f"Z has shape {Z.shape}, expected the shape of X {(widths[-1], widths[0])}")
    Wn, s = normalized(W)
    out = _differential_adjoint(Wn, Z.astype(np.result_type(Z, W[0]), copy=False))
    return tuple(np.array(m) for m in rescale(out, s, len(W) - 1, "dphi_W^*(Z)"))


class EndToEndMetric(LinearOperator):
    """``dphi dphi^*`` on ``d_N x d_0`` matrices, as a self-adjoint PSD ``LinearOperator``.

    ``Z -> sum_j L_j Z R_j`` with ``L_j = (W_N..W_{j+1})(W_N..W_{j+1})^*`` and
    ``R_j = (W_{j-1}..W_1)^*(W_{j-1}..W_1)``, precomputed once (2N products), then 2N products
    per application. Vectors are row-major ravels of ``d_N x d_0`` matrices. This is also the
    metric of the learning flow on the balanced manifold (docs/math section 4).
    """

    def __init__(self, W):
        W = as_weights(W)
        self.weights = W
        self.widths = _widths(W)
        N = len(W)
        dtype = W[0].dtype
        F = forward_products(W)
        B = backward_products(W)
        self.left = [None if B[j] is None else B[j] @ herm(B[j]) for j in range(1, N + 1)]
        self.right = [None if F[j - 1] is None else herm(F[j - 1]) @ F[j - 1] for j in range(1, N + 1)]
        self.x_shape = (self.widths[-1], self.widths[0])
        n = self.x_shape[0] * self.x_shape[1]
        super().__init__(dtype=dtype, shape=(n, n))
        self._precond = None

    def apply(self, Z: np.ndarray) -> np.ndarray:
        """``dphi dphi^*(Z)`` for a ``d_N x d_0`` matrix Z."""
        out = np.zeros(self.x_shape, dtype=np.result_type(self.dtype, Z.dtype))
        for L, R in zip(self.left, self.right, strict=True):
            T = Z if L is None else L @ Z
            out += T if R is None else T @ R
        return out

    def _matvec(self, v):
        return self.apply(np.reshape(v, self.x_shape)).ravel()

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self

    def preconditioner(self):
        """Inverse of the diagonal of the operator in the eigenbasis of ``L_1`` and ``R_N``.

        With ``L_1 = U diag(a) U^*`` and ``R_N = V diag(b) V^*``, the operator's diagonal in the
        basis ``u_k v_l^*`` is ``D_kl = sum_j (U^* L_j U)_kk (V^* R_j V)_ll``; exact zeros of D are
        kernel directions and are left out (pseudo-inverse).
        """
        if self._precond is None:
            N = len(self.weights)
            dN, d0 = self.x_shape
            if N == 1:
                self._precond = lambda R: R
                return self._precond
            _, U = np.linalg.eigh(self.left[0])
            _, V = np.linalg.eigh(self.right[-1])
            D = np.zeros((dN, d0))
            for L, R in zip(self.left, self.right, strict=True):
                lk = np.ones(dN) if L is None else np.einsum("ik,ij,jk->k", U.conj(), L, U).real
                rk = np.ones(d0) if R is None else np.einsum("ik,ij,jk->k", V.conj(), R, V).real
                D += np.outer(lk, rk)
            Dinv = np.zeros_like(D)
            keep = D > 1e-13 * D.max()
            Dinv[keep] = 1.0 / D[keep]
            Uh, Vh = herm(U), herm(V)

            def apply_inverse(Rm):
                return U @ ((Uh @ Rm @ V) * Dinv) @ Vh

            self._precond = apply_inverse
        return self._precond

    @property
    def differential_norm_bound(self) -> float:
        """Upper bound ``sqrt(sum_j ||L_j||_F ||R_j||_F)`` of the operator norm of ``dphi_W``."""
        total = 0.0
        for L, R in zip(self.left, self.right, strict=True):
            total += (1.0 if L is None else float(np.linalg.norm(L))) * (
                1.0 if R is None else float(np.linalg.norm(R))
            )
        return float(np.sqrt(total))

    def solve(self, rhs, rtol: float = 1e-12, maxiter: int | None = None, *, atol: float = 0.0) -> MetricSolution:
        """Solve ``dphi dphi^*(Z) = rhs`` by preconditioned CG, to ``max(rtol ||rhs||, atol)``.

        ``converged`` is True only if that residual was reached and Z is finite.
        """
        rtol, atol, maxiter = check_options(rtol=rtol, atol=atol, maxiter=maxiter)
        rhs = as_matrix(rhs, "rhs")
        rhs = rhs.astype(np.result_type(rhs, self.dtype), copy=False)
        if rhs.shape != self.x_shape:
            raise ValueError(f"rhs has shape {rhs.shape}, expected the shape of X {self.x_shape}")
        M = self.preconditioner()
        res = pcg(
            lambda v: self._matvec(v),
            rhs.ravel(),
            lambda v: M(v.reshape(self.x_shape)).ravel(),
            rtol=rtol,
            atol=atol,
            maxiter=maxiter,
        )
        sol = MetricSolution.from_krylov(res.x.reshape(self.x_shape), res, rtol)
        if sol.converged and not np.isfinite(sol.Z).all():
            sol = dataclasses.replace(sol, converged=False, message="non-finite solution: " + sol.message)
        return sol


@dataclass(frozen=True)
class MetricSolution:
    """Result of :func:`solve_end_to_end_metric`.

    Attributes
    ----------
    Z : ndarray
        A solution of ``dphi dphi^*(Z) = rhs``, shape ``(d_N, d_0)``.
    converged : bool
        Whether the relative residual reached ``rtol``.
    iterations : int
        Conjugate-gradient iterations.
    residual : float
        True relative residual ``||dphi dphi^*(Z) - rhs|| / ||rhs||``.
    message : str
        Human-readable account of the solve.
    """

    Z: np.ndarray
    converged: bool
    iterations: int
    residual: float
    message: str

    @classmethod
    def from_krylov(cls, Z, res: KrylovResult, rtol: float) -> MetricSolution:
        if res.converged:
            msg = f"converged in {res.iterations} iterations (relative residual {res.residual:.2e})"
        else:
            msg = (
                f"did not converge: relative residual {res.residual:.2e} > rtol {rtol:.1e} after "
                f"{res.iterations} iterations"
            )
        return cls(Z, res.converged, res.iterations, res.residual, msg)


def end_to_end_metric(W) -> EndToEndMetric:
    """The end-to-end metric ``dphi_W dphi_W^*`` as a ``scipy.sparse.linalg.LinearOperator``.

    ``dphi dphi^*(Z) = sum_j (W_N..W_{j+1})(W_N..W_{j+1})^* Z (W_{j-1}..W_1)^*(W_{j-1}..W_1)``
    acting on row-major ravels of ``d_N x d_0`` matrices; self-adjoint and positive
    semi-definite (singular when dphi is not surjective, e.g. a bottleneck or rank-deficient X).
    Use ``.apply(Z)`` on matrices and ``.solve(rhs)`` to invert it.
    """
    return EndToEndMetric(W)


def solve_end_to_end_metric(W, rhs, rtol: float = 1e-12, maxiter: int | None = None, *, atol: float = 0.0):
    """Solve ``dphi_W dphi_W^*(Z) = rhs`` matrix-free (preconditioned CG).

    The preconditioner is the inverse diagonal of the operator in the eigenbasis of its two
    end terms ``L_1 = B_1 B_1^*`` and ``R_N = F_{N-1}^* F_{N-1}``. When the metric is singular
    the system must be consistent (``rhs`` in the range of dphi, as ``dphi(V)`` always is); any
    solution then gives the same ``dphi^*(Z)``. Stops when the residual is below
    ``max(rtol ||rhs||, atol)``.

    Computed at scale 1: the metric at ``cW`` is ``c^{2(N-1)}`` times that at W, so W is divided
    by ``s ~ scale(W)``, the system solved there, and Z multiplied by ``s^{-2(N-1)}`` (a
    ``ValueError`` if that Z is not representable). A real rhs at complex W is promoted.

    Returns
    -------
    MetricSolution
    """
    rtol, atol, maxiter = check_options(rtol=rtol, atol=atol, maxiter=maxiter)
    W = as_weights(W)
    Wn, s = normalized(W)
    sol = EndToEndMetric(Wn).solve(rhs, rtol=rtol, maxiter=maxiter, atol=atol)
    sol = dataclasses.replace(sol, Z=rescale(sol.Z, s, -2 * (len(W) - 1), "Z"))
    if not sol.converged:
        import warnings

        warnings.warn(f"solve_end_to_end_metric {sol.message}", ConvergenceWarning, stacklevel=2)
    return sol
