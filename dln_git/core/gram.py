"""The Gram operator ``A_W^* A_W`` on the Lie algebra and its minimum-norm solver.

MATH.md section 2:
``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i``
``- W_i xi_{i-1} W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}``,
block-tridiagonal with Sylvester diagonal blocks, complex-linear, self-adjoint and positive
semi-definite; singular exactly where W has a non-trivial stabiliser (``ker A^*A = ker A``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .errors import ConvergenceWarning
from .gauge import _action, _action_adjoint, lie_algebra_shapes
from .krylov import pcg
from .linalg import herm, norm, pack, unpack
from .subspaces import FactoredSubspace, TooLargeError, stabiliser_subspace
from .validation import _widths, as_lie_algebra, as_weights

__all__ = ["GramOperator", "GramSolution", "gram_operator", "solve_gram"]


@dataclass(frozen=True)
class GramSolution:
    """Result of :func:`solve_gram`.

    Attributes
    ----------
    xi : tuple of ndarray
        The minimum-norm solution of ``A_W^* A_W xi = rhs`` (when ``min_norm``).
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


class GramOperator(LinearOperator):
    """``A_W^* A_W`` on the packed Lie algebra (row-major ravels of ``xi_1..xi_{N-1}``).

    Applied matrix-free as ``A_W^*(A_W(xi))`` (about 4N products of d x d matrices). Use
    ``.apply(xi)`` on tuples, ``.solve(rhs)`` for the minimum-norm solution, ``.kernel()`` for
    the stabiliser algebra.
    """

    def __init__(self, W, *, rank_rtol: float = 1e-10):
        W = as_weights(W)
        self.weights = W
        self.widths = _widths(W)
        self.shapes = lie_algebra_shapes(self.widths)
        self.rank_rtol = rank_rtol
        n = sum(d * d for d, _ in self.shapes)
        super().__init__(dtype=W[0].dtype, shape=(n, n))
        self._precond = None
        self._kernel: FactoredSubspace | None = None
        self._kernel_error: str | None = None

    def apply(self, xi) -> tuple[np.ndarray, ...]:
        """``A_W^*(A_W(xi))`` for a tuple ``xi``."""
        return _action_adjoint(self.weights, _action(self.weights, xi))

    def _matvec(self, v):
        v = np.ravel(v)
        return pack(self.apply(unpack(v, self.shapes))) if v.size else v.copy()

    def _rmatvec(self, v):
        return self._matvec(v)

    def _adjoint(self):
        return self

    def preconditioner(self):
        """Block-Jacobi: the inverse of each Sylvester diagonal block ``xi -> Q_i xi + xi P_i``.

        ``P_i = W_i W_i^* = U diag(p) U^*``, ``Q_i = W_{i+1}^* W_{i+1} = V diag(q) V^*``, so the
        block inverts as ``V [(V^* r U) / (q_a + p_b)] U^*``. Entries with ``q_a + p_b = 0``
        (below 1e-13 of the largest) belong to ``ker A_W`` and are left out.
        """
        if self._precond is None:
            W = self.weights
            blocks = []
            for i in range(len(W) - 1):
                p, U = np.linalg.eigh(W[i] @ herm(W[i]))
                q, V = np.linalg.eigh(herm(W[i + 1]) @ W[i + 1])
                blocks.append((U, V, q[:, None] + p[None, :]))
            top = max((D.max() for _, _, D in blocks), default=1.0)
            factors = []
            for U, V, D in blocks:
                Dinv = np.zeros_like(D)
                keep = D > 1e-13 * top
                Dinv[keep] = 1.0 / D[keep]
                factors.append((U, V, Dinv))

            def apply_inverse(r):
                return tuple(
                    V @ ((herm(V) @ ri @ U) * Dinv) @ herm(U)
                    for (U, V, Dinv), ri in zip(factors, r, strict=True)
                )

            self._precond = apply_inverse
        return self._precond

    def kernel(self) -> FactoredSubspace | None:
        """``ker A_W`` (the stabiliser algebra), or None if too large to compute densely."""
        if self._kernel is None and self._kernel_error is None:
            try:
                self._kernel = stabiliser_subspace(self.weights, self.rank_rtol)
            except TooLargeError as exc:
                self._kernel_error = str(exc)
        return self._kernel

    @property
    def action_norm_bound(self) -> float:
        """Upper bound ``2 max_i ||W_i||_F`` of the operator norm of ``A_W`` (so ``||A^*A|| <= bound^2``)."""
        return 2.0 * max(float(np.linalg.norm(w)) for w in self.weights)

    def solve(self, rhs, rtol: float = 1e-10, maxiter: int | None = None, *, atol: float = 0.0) -> GramSolution:
        """Minimum-norm solution of ``A_W^* A_W xi = rhs`` (see :func:`solve_gram`)."""
        rhs = as_lie_algebra(rhs, self.widths, "rhs")
        if not self.shapes:
            return GramSolution((), True, 0, 0.0, 0, False, True, 0.0, "depth 1: empty Lie algebra")
        dtype = np.result_type(self.dtype, *rhs)
        rhs = tuple(r.astype(dtype, copy=False) for r in rhs)
        K = self.kernel()
        rnorm = norm(rhs)
        outside = 0.0
        if K is not None and K.dim > 0 and rnorm > 0:
            rk = K.project(rhs)
            outside = norm(rk) / rnorm
            rhs = tuple(r - k for r, k in zip(rhs, rk, strict=True))
        M = self.preconditioner()
        threshold = max(rtol * rnorm, atol)
        res = pcg(
            self._matvec,
            pack(rhs),
            lambda v: pack(M(unpack(v, self.shapes))),
            rtol=0.0,
            atol=threshold,
            maxiter=maxiter,
        )
        xi = tuple(np.array(m) for m in unpack(res.x, self.shapes))
        if K is not None and K.dim > 0:
            xi = tuple(x - k for x, k in zip(xi, K.project(xi), strict=True))
        residual = res.residual * norm(rhs) / rnorm if rnorm else 0.0
        converged = res.converged
        kdim = None if K is None else K.dim
        parts = [
            f"converged in {res.iterations} iterations" if converged
            else f"did not converge: relative residual {residual:.2e} > rtol {rtol:.1e}"
            + (f" (atol {atol:.1e})" if atol else "")
            + f" after {res.iterations} iterations",
        ]
        if kdim is None:
            parts.append(f"kernel not computed ({self._kernel_error}): solution is not min-norm")
        elif kdim > 0:
            parts.append(f"operator singular: stabiliser of dimension {kdim} projected out")
        if outside > 1e-8:
            parts.append(f"rhs has {outside:.2e} of its norm outside the range (least squares)")
        return GramSolution(
            xi, bool(converged), res.iterations, float(residual), kdim,
            None if kdim is None else kdim > 0, K is not None, float(outside), "; ".join(parts),
        )


def gram_operator(W, *, rank_rtol: float = 1e-10) -> GramOperator:
    """The Gram operator ``A_W^* A_W`` as a ``scipy.sparse.linalg.LinearOperator``.

    ``(A_W^* A_W xi)_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1} W_i^*
    - W_{i+1}^* xi_{i+1} W_{i+1}``, acting on ``pack(xi)`` (row-major ravels of
    ``xi_1, ..., xi_{N-1}`` concatenated). Shape ``(0, 0)`` for depth 1.
    """
    return GramOperator(W, rank_rtol=rank_rtol)


def solve_gram(W, rhs, rtol: float = 1e-10, *, atol: float = 0.0, maxiter: int | None = None,
               rank_rtol: float = 1e-10) -> GramSolution:
    """Minimum-norm solution of ``A_W^* A_W xi = rhs``, matrix-free.

    Preconditioned conjugate gradients with the block-Jacobi (Sylvester) preconditioner of
    :meth:`GramOperator.preconditioner`. PCG returns the solution of least
    preconditioner-weighted norm, not the minimum Euclidean norm, so the stabiliser algebra
    ``ker A_W`` (computed exactly, see :func:`dln_git.core.subspaces.stabiliser_subspace`) is
    projected out of the rhs and of the result: the returned xi is ``(A_W^* A_W)^+ rhs``.

    Parameters
    ----------
    W : weights
    rhs : tuple of ndarray
        A Lie algebra element ``(r_1, ..., r_{N-1})`` (e.g. the moment map).
    rtol, atol : float
        Stop when ``||A_W^* A_W xi - rhs|| <= max(rtol ||rhs||, atol)`` (on the range part of rhs).

    Returns
    -------
    GramSolution
        With ``singular``/``kernel_dim`` saying whether the operator is singular. A warning
        (:class:`ConvergenceWarning`) is issued if the tolerance was not reached.
    """
    sol = GramOperator(W, rank_rtol=rank_rtol).solve(rhs, rtol=rtol, maxiter=maxiter, atol=atol)
    if not sol.converged:
        warnings.warn(f"solve_gram {sol.message}", ConvergenceWarning, stacklevel=2)
    return sol
