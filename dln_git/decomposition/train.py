"""Training a deep linear network, recorded as the two flows of MATH.md section 4.

``L(W) = E(phi(W)) + lam R(W)``; the training velocity ``-grad L`` splits into a vertical part
``-lam Pi_V(W)`` (the L2 balancing flow, scaled by lam) and a horizontal part that moves X.

* ``method="flow"``: the gradient flow ``dW/dt = -grad L(W)``, adaptive Dormand–Prince 5(4);
* ``method="gd"``:   ``W <- W - eta (grad_W E + lam W)``;
* ``method="sgd"``:  the same with the minibatch loss ``E_b`` of a :class:`~.losses.DataLoss`,
  batches drawn without replacement from a seeded generator (recorded in ``batches``).

Along the flow ``mu(W(t)) = exp(-2 lam t) mu(W(0))`` exactly; along GD
``mu_{k+1} = (1 - eta lam)^2 mu_k + eta^2 (g_i g_i^* - g_{i+1}^* g_{i+1})``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..core.errors import ConvergenceWarning
from ..core.linalg import norm
from ..core.moment_map import _moment_norm, _regularizer
from ..core.validation import _widths, as_weights
from ..core.weights import as_rng
from ..flows.integrators import ProjectedStepper, integrate
from .gradient import _value_and_gradient
from .losses import DataLoss, as_loss
from .options import check_lam, check_positive, check_time_grid
from .split import _split

__all__ = ["METHODS", "SPEED_MAXITER", "SPEED_RTOL", "TrainResult", "train"]

METHODS = ("flow", "gd", "sgd")

#: Relative accuracy and iteration cap of the end-to-end metric solve behind the recorded speeds
#: (a diagnostic: near low-rank weights the metric is ill-conditioned and CG slows down; records
#: that miss the accuracy are counted in the result's message, not warned about one by one).
SPEED_RTOL = 1e-9
SPEED_MAXITER = 500


@dataclass(frozen=True)
class TrainResult:
    """A training run, recorded at ``times``.

    Attributes
    ----------
    weights : tuple of ndarray
        The final weights.
    times : ndarray
        Recorded times: flow time t, or ``k eta`` after k steps of (S)GD.
    step_index : ndarray or None
        The step number k of each record (GD and SGD).
    X : ndarray
        ``phi(W)`` at the recorded times, shape ``(len(times), d_N, d_0)``.
    loss, data_loss : ndarray
        ``L = E + lam R`` and ``E`` (the full-data loss, also for SGD).
    mu_norm, regularizer : ndarray
        ``||mu(W)||`` and ``R(W)``.
    vertical_speed, horizontal_speed : ndarray
        ``||Pi_V(grad L)||`` and ``||Pi_H(grad L)||`` of the full-data velocity at the recorded points
        (NaN where ``speeds=False``). Since ``grad_W E`` is horizontal, the vertical part is
        ``-lam Pi_V(W)``, from one end-to-end metric solve to relative accuracy :data:`SPEED_RTOL`.
    batches : ndarray or None
        SGD: the sample indices of every step, shape ``(steps, batch_size)``.
    trajectory : tuple of weight tuples or None
        The weights at the recorded times (``record_weights=True``).
    steps, evaluations : int
        Steps taken (accepted integrator steps for the flow) and gradient evaluations.
    converged : bool
        The run reached its end with finite weights.
    message : str
    method : str
    lam : float
    """

    weights: tuple[np.ndarray, ...]
    times: np.ndarray
    step_index: np.ndarray | None
    X: np.ndarray
    loss: np.ndarray
    data_loss: np.ndarray
    mu_norm: np.ndarray
    regularizer: np.ndarray
    vertical_speed: np.ndarray
    horizontal_speed: np.ndarray
    batches: np.ndarray | None
    trajectory: tuple | None
    steps: int
    evaluations: int
    converged: bool
    message: str
    method: str
    lam: float


class _Recorder:
    """Measures L, E, mu, R and the vertical/horizontal speeds at recorded weights."""

    def __init__(self, loss, lam: float, speeds: bool, keep_weights: bool):
        self.loss, self.lam, self.speeds, self.keep = loss, lam, speeds, keep_weights
        self.rows: list[tuple] = []
        self.weights: list[tuple] = []
        self.inexact_speeds = 0

    def __call__(self, t: float, W) -> None:
        g = _value_and_gradient(W, self.loss, self.lam)
        vertical = horizontal = np.nan
        if self.speeds:
            # grad_W E = dphi^*(grad E) lies in range(dphi^*), orthogonal to the fiber, so the vertical
            # part of -grad L is -lam Pi_V(W); splitting W (not the often ill-conditioned data
            # gradient) keeps the vertical speed accurate relative to lam ||W||
            if self.lam:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    w_vertical, _ = _split(W, W, SPEED_RTOL, SPEED_MAXITER)
                self.inexact_speeds += bool(caught)
                V_vertical = tuple(-self.lam * v for v in w_vertical)
            else:
                V_vertical = tuple(np.zeros_like(w) for w in W)
            vertical = norm(V_vertical)
            horizontal = norm(tuple(-x - v for x, v in zip(g.grad, V_vertical, strict=True)))
        self.rows.append((t, g.X.copy(), g.value, g.data_loss, _moment_norm(W), _regularizer(W), vertical, horizontal))
        if self.keep:
            self.weights.append(tuple(w.copy() for w in W))

    def result(self, W, *, step_index, batches, steps, evaluations, converged, message, method) -> TrainResult:
        t, X, L, E, mu, R, v, h = zip(*self.rows, strict=True)
        if self.inexact_speeds:
            message += (f"; the speeds of {self.inexact_speeds} of {len(self.rows)} records are less accurate than "
                        f"{SPEED_RTOL:g} (end-to-end metric solve stopped after {SPEED_MAXITER} CG iterations)")
        return TrainResult(
            weights=tuple(np.array(w) for w in W), times=np.array(t), step_index=step_index, X=np.stack(X),
            loss=np.array(L), data_loss=np.array(E), mu_norm=np.array(mu), regularizer=np.array(R),
            vertical_speed=np.array(v), horizontal_speed=np.array(h), batches=batches,
            trajectory=tuple(self.weights) if self.keep else None, steps=steps, evaluations=evaluations,
            converged=converged, message=message, method=method, lam=self.lam,
        )


def _train_flow(W, loss, lam, recorder, t_final, t_eval, rtol, atol, max_steps) -> TrainResult:
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    scale = float(np.sqrt(sum(np.vdot(w, w).real for w in W))) or 1.0
    atol = rtol * scale if atol is None else float(atol)

    def velocity(Wt):
        return tuple(-g for g in _value_and_gradient(Wt, loss, lam).grad)

    run = integrate(ProjectedStepper(velocity, lambda Wt: Wt, rtol, atol), W, t_final, t_eval=t_eval,
                    max_steps=max_steps)
    for t, Wt in zip(run.times, run.weights, strict=True):
        recorder(t, Wt)
    message = run.failure or f"gradient flow to t = {t_final:g} in {run.steps} steps ({run.rejected} rejected)"
    return recorder.result(run.final, step_index=None, batches=None, steps=run.steps, evaluations=run.evaluations,
                           converged=not run.failure, message=message, method="flow")


def _train_discrete(W, loss, lam, recorder, eta, steps, batch_size, rng, record_every, method) -> TrainResult:
    eta = check_positive(eta, "eta (the step size)")
    if steps is None or int(steps) < 1:
        raise ValueError(f"steps must be a positive integer for method={method!r}, got {steps}")
    steps = int(steps)
    record_every = max(1, steps // 100) if record_every is None else int(record_every)
    if record_every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every}")
    batches = None
    if method == "sgd":
        if not isinstance(loss, DataLoss):
            raise ValueError(f"method='sgd' needs a data loss with samples (LinearRegression, MatrixSensing, "
                             f"MatrixCompletion), got {type(loss).__name__}")
        if batch_size is None or not (1 <= int(batch_size) <= loss.n_samples):
            raise ValueError(f"batch_size must be an integer in [1, {loss.n_samples}] for SGD, got {batch_size}")
        rng = as_rng(rng)
        batches = np.stack([rng.choice(loss.n_samples, size=int(batch_size), replace=False) for _ in range(steps)])
    W = [w.copy() for w in W]
    shrink = 1.0 - eta * lam
    recorded = [0]
    recorder(0.0, W)
    message = f"{steps} steps of {'gradient descent' if method == 'gd' else 'SGD'} with eta = {eta:g}"
    converged = True
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            step_loss = loss if batches is None else loss.batch(batches[k - 1])
            grad = _value_and_gradient(W, step_loss, 0.0).grad_data
            for w, g in zip(W, grad, strict=True):
                if shrink != 1.0:
                    w *= shrink
                w -= eta * g
            if k % record_every == 0 or k == steps:
                if not all(np.isfinite(w).all() for w in W):
                    converged = False
                    message = f"diverged: non-finite weights after step {k} (eta = {eta:g} too large?)"
                    break
                recorder(k * eta, W)
                recorded.append(k)
    return recorder.result(W, step_index=np.array(recorded), batches=batches, steps=k, evaluations=k,
                           converged=converged, message=message, method=method)


def train(
    W0,
    loss,
    *,
    lam: float = 0.0,
    method: str = "flow",
    t_final: float | None = None,
    t_eval=None,
    rtol: float = 1e-10,
    atol: float | None = None,
    max_steps: int = 100_000,
    eta: float | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    rng=None,
    record_every: int | None = None,
    record_weights: bool = False,
    speeds: bool = True,
) -> TrainResult:
    """Train ``L(W) = E(phi(W)) + lam R(W)`` from ``W0`` and record the decomposition.

    Parameters
    ----------
    W0 : sequence of arrays
        Initial weights ``(W_1, ..., W_N)``.
    loss : Loss or callable ``E(X) -> (value, grad)``
    lam : float
        Weight of the regularizer ``R = 1/2 sum ||W_i||^2``.
    method : {"flow", "gd", "sgd"}
    t_final, t_eval, rtol, atol, max_steps :
        Gradient flow: final time, times to record (default: every accepted step) and the
        integrator's tolerances (``atol`` defaults to ``rtol ||W0||``).
    eta, steps :
        (S)GD: step size and number of steps.
    batch_size, rng :
        SGD: samples per step and the seed or ``numpy.random.Generator`` of the batch schedule.
    record_every : int
        (S)GD: record every this many steps (default ``max(1, steps // 100)``), plus the first
        and the last.
    record_weights : bool
        Keep the weights at the recorded times.
    speeds : bool
        Measure the vertical and horizontal speeds (one end-to-end metric solve per record).
    """
    W = as_weights(W0)
    widths = _widths(W)
    loss = as_loss(loss, (widths[-1], widths[0]))
    lam = check_lam(lam)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    recorder = _Recorder(loss, lam, bool(speeds), bool(record_weights))
    if method == "flow":
        if t_final is None:
            raise ValueError("method='flow' needs t_final")
        return _train_flow(W, loss, lam, recorder, t_final, t_eval, rtol, atol, max_steps)
    if eta is None:
        raise ValueError(f"method={method!r} needs the step size eta")
    return _train_discrete(W, loss, lam, recorder, eta, steps, batch_size, rng, record_every, method)
