"""The vector fields of the balancing flows (docs/math section 3), as gauge generators or velocities.

* L2 orbit flow: ``dW/dt = -A_W(xi)``, ``A_W^* A_W xi = mu(W)`` (min-norm xi): generator ``-xi``.
* Finite-time form: ``dW/ds = -A_W(xi)``, ``A_W^* A_W xi = mu_0`` (fixed rhs): generator ``-xi``.
* Squared-moment-map flow: ``dW/dt = -A_W(mu(W))``: generator ``-mu(W)``.
* L2 fiber flow: ``dW/dt = -Pi_V(W)`` (a velocity, not a gauge direction on funnels), with
  :func:`fiber_retraction` bringing a point back onto ``phi(W) = X_0``.
"""

from __future__ import annotations

import numpy as np

from ..core.end_to_end import EndToEndMetric, _differential, _differential_adjoint, product_rounding_level
from ..core.end_to_end import _end_to_end as end_to_end_product
from ..core.gram import GramOperator
from ..core.gram.preconditioners import auto_kind
from ..core.gram.segments import WARM_SEGMENT, SegmentPreconditioner, default_segments
from ..core.linalg import norm, pack, unpack
from ..core.moment_map import _moment_map

__all__ = ["FiberVelocity", "L2Generator", "MomentGenerator", "fiber_retraction"]


class _Failures:
    """Collects the messages of inner solves that did not converge (reported, never hidden)."""

    def __init__(self):
        self.failures: list[str] = []

    def note(self, what: str, message: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(f"{what}: {message}")
        elif len(self.failures) == 5:
            self.failures.append("... (further failures not listed)")


class L2Generator(_Failures):
    """``W -> -xi`` with ``A_W^* A_W xi = rhs(W)``, minimum-norm, to relative residual ``rtol``.

    ``rhs(W) = mu(W)`` for the L2 flow, or a fixed ``mu_0`` for its finite-time form. The
    previous solution warm-starts the next solve when the solver supports it. Where the default
    preconditioner is ``"segments"`` and the stabiliser is trivial, the segments are at most
    :data:`~dln_git.core.gram.segments.WARM_SEGMENT` hidden layers long: warm-started solves need
    few iterations, and the shorter sweep costs less per iteration.

    ``energy_rtol > 0``: each solve also waits until the velocity ``A_W(xi)`` is accurate to
    about ``energy_rtol`` relative (or the residual is 1000 times below ``rtol``;
    :func:`dln_git.core.krylov.pcg`).
    """

    def __init__(self, rtol: float, fixed_rhs=None, trivial_stabiliser: bool = False, energy_rtol: float = 0.0):
        super().__init__()
        self.rtol = rtol
        self.energy_rtol = energy_rtol
        self.fixed_rhs = fixed_rhs
        self.trivial_stabiliser = trivial_stabiliser
        self.iterations = 0
        self.solves = 0
        self.dense_fallbacks = 0
        self._last = None
        self._hint = None

    def suggest(self, generator) -> None:
        """A warm start for the next call only: the predicted generator ``-xi`` at the next point
        (e.g. extrapolated from the Runge–Kutta stages); the solution does not depend on it."""
        self._hint = tuple(-g for g in generator)

    def __call__(self, W):
        rhs = _moment_map(W) if self.fixed_rhs is None else self.fixed_rhs
        # along an orbit ker A_{g.W} = g ker A_W g^{-1}: a trivial stabiliser stays trivial
        gram = GramOperator(W, trivial_kernel=self.trivial_stabiliser)
        x0 = self._last if self._hint is None else self._hint
        self._hint = None
        sol = gram.solve(rhs, rtol=self.rtol, x0=x0, energy_rtol=self.energy_rtol,
                         preconditioner=self._preconditioner(gram))
        self.iterations += sol.iterations
        self.solves += 1
        xi = sol.xi
        if not sol.converged and sol.residual > 100 * self.rtol:
            if gram.shape[0] <= DENSE_FALLBACK_DIM:
                xi = _dense_min_norm(gram, rhs)
                self.dense_fallbacks += 1
            else:
                self.note("Gram solve", sol.message)
        self._last = xi
        return tuple(-x for x in xi)

    def _preconditioner(self, gram: GramOperator):
        """``"auto"``, or segments of at most ``WARM_SEGMENT`` layers where auto takes segments and
        the stabiliser is trivial (no kernel to project out of the preconditioner)."""
        if not (self.trivial_stabiliser and auto_kind(gram.widths) == "segments"):
            return "auto"
        hidden = len(gram.weights) - 1
        return SegmentPreconditioner(gram.weights, gram.preconditioner("jacobi"),
                                     default_segments(hidden, WARM_SEGMENT))


#: Largest Lie algebra dimension for which a failed PCG solve is redone densely.
DENSE_FALLBACK_DIM = 600


def _dense_min_norm(gram: GramOperator, rhs) -> tuple[np.ndarray, ...]:
    """``(A^*A)^+ rhs`` from the dense Gram matrix (eigenvalues below 1e-13 of the largest dropped).

    Used where PCG stagnates: near a point of the orbit closure the Gram operator has eigenvalues
    far below its norm besides its exact kernel.
    """
    n = gram.shape[0]
    dtype = np.result_type(gram.dtype, *rhs)
    G = np.column_stack([gram.matvec(e) for e in np.eye(n, dtype=dtype)])
    lam, U = np.linalg.eigh(0.5 * (G + G.conj().T))
    keep = lam > 1e-13 * max(lam[-1], 0.0)
    b = pack(rhs)
    x = U[:, keep] @ ((U[:, keep].conj().T @ b) / lam[keep])
    return tuple(np.array(m) for m in unpack(x, gram.shapes))


class MomentGenerator(_Failures):
    """``W -> -mu(W)``: the squared-moment-map flow (no linear solve)."""

    def __call__(self, W):
        return tuple(-m for m in _moment_map(W))


class FiberVelocity(_Failures):
    """``W -> -Pi_V(W) = -(W - dphi^*(Z))``, ``dphi dphi^* Z = dphi(W)``: the L2 fiber flow."""

    def __init__(self, rtol: float):
        super().__init__()
        self.rtol = rtol

    def __call__(self, W):
        metric = EndToEndMetric(W)
        rhs = _differential(W, W)
        sol = metric.solve(rhs, rtol=self.rtol, atol=self.rtol * metric.differential_norm_bound * norm(W))
        if not sol.converged:
            self.note("end-to-end metric solve", sol.message)
        H = _differential_adjoint(W, sol.Z)
        return tuple(h - w for w, h in zip(W, H, strict=True))


def fiber_retraction(W0, failures: _Failures, max_iter: int = 4):
    """Gauss–Newton retraction onto the fiber of ``X_0 = phi(W0)``: ``W <- W - dphi^*(Z)``.

    ``dphi dphi^* Z = phi(W) - X_0``: the minimum-norm correction (horizontal, so it does not move
    along the fiber); quadratic convergence, stopped once ``||phi(W) - X_0||`` is at most
    ``max(4 eps ||X_0||, min(floor, level(W)))``, with ``floor = max(4 eps ||X_0||, level(W0))``
    and ``level`` the rounding level of the product ``W_N..W_1`` from its partial products
    (:func:`dln_git.core.end_to_end.product_rounding_level`, uncapped; it exceeds
    ``eps ||X_0||`` where the product cancels, e.g. at ``X_0 = 0`` with nonzero layers, but not by
    the product of the layer norms on gauged layers). The level at the current W is what the
    computed gap can resolve: it falls as the flow balances W, so X is restored to the precision
    of the balanced product at the end (gauged funnel (3, 5, ..., 5, 3), depth 12: relative drift
    1.4e-14, against 2e-12 when stopped at ``floor``). A gap still above 16 times ``floor`` after
    ``max_iter`` steps is noted in ``failures`` (the run then reports non-convergence).
    """
    X0 = end_to_end_product(W0)
    aim = 4 * np.finfo(float).eps * float(np.linalg.norm(X0))
    floor = max(aim, 4 * np.finfo(float).eps * np.finfo(float).tiny, product_rounding_level(W0))

    def retract(W):
        for _ in range(max_iter):
            D = end_to_end_product(W) - X0
            level = max(aim, min(floor, product_rounding_level(W, capped=False)))
            if np.linalg.norm(D) <= level:
                return W
            metric = EndToEndMetric(W)
            sol = metric.solve(D, rtol=1e-12, atol=0.5 * level)
            W = tuple(w - c for w, c in zip(W, _differential_adjoint(W, sol.Z), strict=True))
        gap = float(np.linalg.norm(end_to_end_product(W) - X0))
        if gap > 16 * floor:
            failures.note("retraction", f"||phi(W) - X|| = {gap:.2e} after {max_iter} Gauss-Newton steps")
        return W

    return retract
