"""The learning flow of the end-to-end map on the balanced manifold (docs/math section 4).

From a balanced point, ``X = phi(W(t))`` of the training flow ``dW/dt = -grad L(W)`` obeys
(Arora, Cohen & Hazan 2018; Bah, Rauhut, Terstiege & Westdickenberg 2022)::

    dX/dt = - sum_{j=1}^N (X X^*)^{(N-j)/N} grad E(X) (X^* X)^{(j-1)/N} - lam N X,

a Riemannian gradient flow of ``E(X) + lam (N/2) tr((X^* X)^{1/N})``. ``(X X^*)^0`` is the
identity (not the projector onto the range). With ``X = U diag(s) V^*`` (full SVD) the sum is
``U (K o (U^* G V)) V^*`` with the Hadamard kernel ``K_kl = sum_j p_k^{N-j} q_l^{j-1}``,
``p_k = s_k^{2/N}``, ``q_l = s_l^{2/N}`` (zero beyond the rank, ``p^0 = q^0 = 1``). The
regularizer term is ``lam N X`` directly (``(X^* X)^{1/N - 1}`` is singular at rank-deficient X).

Rank deficiency (N >= 2): the flow keeps the rank r of X_0 (a zero singular value stays zero), and
fractional powers amplify anything in the null space (``(1e-16)^{2/N}`` is 1e-4 at N = 8). So r is
fixed once, from the singular values of X_0 above ``rank_rtol * s_max``; the kernel uses exactly the
r largest singular values, and each integrator step is retracted onto the rank-r matrices by a
truncated SVD (the stages of a step leave that manifold at second order in the step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.linalg import _rank_from_singular_values, herm
from ..core.options import Rule, check_options
from ..core.validation import as_depth, as_matrix
from ..flows.integrators import ProjectedStepper, integrate
from .guards import Anchor, DivergenceMonitor, NonFiniteError, scaled_norm, zero_predictor_loss
from .losses import as_loss
from .options import ATOL, check_time_grid

__all__ = [
    "RANK_RTOL",
    "LearningFlowResult",
    "balanced_metric_kernel",
    "learning_flow",
    "learning_velocity",
]


def _fractional_powers(s: np.ndarray, size: int, depth: int, rank: int) -> np.ndarray:
    """Rows m = 0..N-1 of ``s_k^{2m/N}`` over ``size`` basis vectors (0 beyond the rank, 1 for m = 0)."""
    P = np.zeros((depth, size))
    P[0] = 1.0
    for m in range(1, depth):
        P[m, :rank] = s[:rank] ** (2.0 * m / depth)
    return P


#: Default relative cutoff below which singular values of X count as zero.
RANK_RTOL = 1e-11


def balanced_metric_kernel(s: np.ndarray, shape: tuple[int, int], depth: int, rank: int) -> np.ndarray:
    """``K_kl = sum_{j=1}^N p_k^{(N-j)} q_l^{(j-1)}`` for the singular values ``s`` of X of ``shape``.

    ``p_k^{(m)} = s_k^{2m/N}`` for the ``rank`` largest singular values, ``0`` beyond them for
    m > 0, and 1 for m = 0 (``(X X^*)^0 = I``).
    """
    try:
        rows, cols = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (rows, cols), got {shape!r}") from None
    if min(rows, cols) < 1:
        raise ValueError(f"shape must have positive entries, got {shape!r}")
    depth = as_depth(depth)
    (rank,) = check_options(rank=(rank, Rule("int", 0, min(rows, cols), what="the rank of X, <= min(shape)")))
    s = np.asarray(s, dtype=float).ravel()
    if s.size < rank or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"s must hold at least rank = {rank} finite non-negative singular values, got {s.size}")
    return _kernel(s, rows, cols, depth, rank)


def _kernel(s: np.ndarray, rows: int, cols: int, depth: int, rank: int) -> np.ndarray:
    P = _fractional_powers(s, rows, depth, rank)
    Q = _fractional_powers(s, cols, depth, rank)
    return sum(np.outer(P[depth - j], Q[j - 1]) for j in range(1, depth + 1))


def _velocity(X: np.ndarray, G: np.ndarray, depth: int, lam: float, rank: int | None = None) -> np.ndarray:
    U, s, Vh = np.linalg.svd(X)
    K = _kernel(s, *X.shape, depth, _rank_from_singular_values(s, RANK_RTOL) if rank is None else rank)
    V = -(U @ (K * (herm(U) @ G @ herm(Vh))) @ Vh)
    if lam:
        V -= lam * depth * X
    return V


def _real_gradient(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``grad E`` for the flow of X: its real part at real X (a loss with complex data)."""
    return np.ascontiguousarray(G.real) if np.iscomplexobj(G) and not np.iscomplexobj(X) else G


def learning_velocity(X, loss, depth: int, lam: float = 0.0, *, rank_rtol: float = RANK_RTOL) -> np.ndarray:
    """``dX/dt`` of the learning flow at X (see the module docstring); the rank of X counts the
    singular values above ``rank_rtol * s_max``. At real X a loss with complex data contributes
    the real part of its gradient."""
    X = as_matrix(X, "X")
    loss = as_loss(loss, X.shape)
    depth = as_depth(depth)
    lam, rank_rtol = check_options(lam=lam, rank_rtol=rank_rtol)
    rank = _rank_from_singular_values(np.linalg.svd(X, compute_uv=False), rank_rtol)
    E, G = loss._evaluate(X)
    if not (np.isfinite(E) and np.isfinite(G).all()):
        raise NonFiniteError(f"the loss E(X) = {E:.3g} or its gradient is not finite in float64 at this X")
    return _velocity(X, _real_gradient(X, G), depth, lam, rank)


@dataclass(frozen=True)
class LearningFlowResult:
    """A run of the learning flow.

    Attributes
    ----------
    X : ndarray
        The final end-to-end map.
    times : ndarray
        Recorded times.
    trajectory : ndarray
        ``X`` at the recorded times, shape ``(len(times), d_N, d_0)``.
    data_loss : ndarray
        ``E(X)`` at the recorded times.
    objective : ndarray
        ``E(X) + lam (N/2) tr((X^* X)^{1/N})``, which the flow decreases.
    steps, evaluations : int
        Accepted steps and velocity evaluations.
    converged : bool
        ``t_final`` was reached with every accepted step within the integrator's tolerance
        (local error ``<= atol + rtol ||X||``) and every recorded value is finite.
    completed : bool
        ``t_final`` was reached (the same as ``converged`` unless a recorded value is not finite).
    message : str
    """

    X: np.ndarray
    times: np.ndarray
    trajectory: np.ndarray
    data_loss: np.ndarray
    objective: np.ndarray
    steps: int
    evaluations: int
    converged: bool
    completed: bool
    message: str


def _objective(X, E: float, depth: int, lam: float) -> float:
    if not lam:
        return E
    s = np.linalg.svd(X, compute_uv=False)
    return E + lam * depth / 2 * float(np.sum(s ** (2.0 / depth)))


def learning_flow(
    X0,
    loss,
    depth: int,
    *,
    lam: float = 0.0,
    t_final: float,
    t_eval=None,
    rtol: float = 1e-11,
    atol: float | None = None,
    max_steps: int = 100_000,
    rank_rtol: float = RANK_RTOL,
) -> LearningFlowResult:
    """Integrate the learning flow of X on the balanced manifold of depth ``depth``.

    Adaptive Dormand–Prince 5(4) on X (the same driver as the flows), landing on every
    ``t_eval``. ``atol`` defaults to ``rtol * ||X0||``. The run stops with ``converged=False`` at
    the first non-finite or exploding loss (``|E| > 1e12 max(|E(X0)|, |E(0)|)``, :mod:`.guards`);
    no SVD is taken of a non-finite X.

    Parameters
    ----------
    X0 : array
        Initial end-to-end map (any rank; real or complex).
    loss : Loss or callable ``E(X) -> (value, grad)``
    depth : int
        N, the number of layers of the network whose balanced manifold this is.
    lam : float
        Weight of the regularizer ``R``; its term is ``-lam N X``.
    rank_rtol : float
        Singular values of X_0 below ``rank_rtol * s_max`` count as zero; the flow keeps that
        rank (see the module docstring).
    """
    X0 = np.array(as_matrix(X0, "X0"))
    loss = as_loss(loss, X0.shape)
    depth = as_depth(depth)
    lam, rank_rtol, max_steps = check_options(lam=lam, rank_rtol=rank_rtol, max_steps=max_steps)
    (atol,) = check_options(atol=(atol, ATOL))
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    atol = rtol * (scaled_norm((X0,)) or 1.0) if atol is None else atol
    E0, G0 = loss._evaluate(X0)
    if not (np.isfinite(E0) and np.isfinite(G0).all()):
        raise NonFiniteError(f"the loss E(X0) = {E0:.3g} or its gradient is not finite in float64")
    monitor = DivergenceMonitor(E0, zero_predictor_loss(loss))
    rank = _rank_from_singular_values(np.linalg.svd(X0, compute_uv=False), rank_rtol)
    last = {"X": None, "E": E0}

    def velocity(Xs):
        X = Xs[0]
        if not np.isfinite(X).all():  # a rejected trial point: no SVD of non-finite data
            return (np.full_like(X, np.nan),)
        E, G = loss._evaluate(X)
        if not (np.isfinite(E) and np.isfinite(G).all()):
            return (np.full_like(X, np.nan),)
        last["X"], last["E"] = X, E
        return (_velocity(X, _real_gradient(X, G), depth, lam, rank),)

    def retract(Xs):
        if rank == min(X0.shape) or depth == 1 or not np.isfinite(Xs[0]).all():
            return Xs  # depth 1: dX/dt = -G - lam X changes the rank freely
        U, s, Vh = np.linalg.svd(Xs[0], full_matrices=False)
        return ((U[:, :rank] * s[:rank]) @ Vh[:rank],)

    divergence = {"message": ""}

    def stop(Xs):
        E = last["E"] if last["X"] is Xs[0] else loss._evaluate(Xs[0])[0]
        divergence["message"] = monitor.check("an accepted step", E, Xs)
        return bool(divergence["message"])

    anchor = Anchor((X0,))
    stepper = ProjectedStepper(anchor.field(velocity), anchor.map(retract), rtol, atol)
    with np.errstate(over="ignore", invalid="ignore"):
        run = integrate(stepper, anchor.state((X0,)), t_final, t_eval=t_eval, max_steps=max_steps,
                        stop=anchor.test(stop))
        traj = np.stack([w[0] for w in run.weights])
        E = np.array([loss._evaluate(x)[0] for x in traj])
        objective = np.array([_objective(x, e, depth, lam) for x, e in zip(traj, E, strict=True)])
    completed = not run.failure and not run.stopped_early
    message = run.failure or f"reached t = {t_final:g} in {run.steps} steps"
    if divergence["message"]:
        message = divergence["message"].replace("an accepted step", f"t = {run.times[-1]:.6g}")
    not_finite = [name for name, v in (("X", traj), ("data_loss", E), ("objective", objective))
                  if not np.isfinite(v).all()]
    if not_finite and completed:
        message += f"; but the recorded {', '.join(not_finite)} are not finite in float64"
    return LearningFlowResult(traj[-1].copy(), np.array(run.times), traj, E, objective, run.steps,
                              run.evaluations, completed and not not_finite, completed, message)
