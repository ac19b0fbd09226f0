"""Training a deep linear network, recorded as the two flows of docs/math section 4.

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
from ..core.moment_map import _moment_map
from ..core.options import Rule, check_options
from ..core.validation import _widths, as_weights
from ..core.weights import as_rng
from ..flows.integrators import ProjectedStepper, integrate
from .gradient import _value_and_gradient
from .guards import Anchor, DivergenceMonitor, NonFiniteError, all_finite, scaled_norm, zero_predictor_loss
from .losses import DataLoss, as_loss
from .options import ATOL, BATCH_SIZE, ETA, RECORD_EVERY, STEPS, check_time_grid
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
        The run is complete and trustworthy: the flow reached ``t_final`` with every accepted step
        within the integrator's tolerance ``rtol`` (local error ``<= atol + rtol ||W||``); (S)GD
        took all ``steps`` steps (GD has no tolerance of its own: this does not say the loss is
        minimal). In both cases every recorded quantity is finite and the loss never exceeded
        the divergence bound of :mod:`.guards`. Otherwise ``message`` says why (divergence with
        the step or time and the loss reached, step cap, step-size collapse).
    completed : bool
        The run reached its end (``t_final``, or all ``steps``), whether or not it is trustworthy.
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
    completed: bool
    message: str
    method: str
    lam: float


class _Recorder:
    """Measures L, E, mu, R and the vertical/horizontal speeds at recorded weights.

    Norms are taken at exactly rescaled weights (:func:`.guards.scaled_norm`), so they are finite
    wherever the quantity itself is representable; speeds are only computed at finite weights.
    """

    def __init__(self, loss, lam: float, speeds: bool, keep_weights: bool):
        self.loss, self.lam, self.speeds, self.keep = loss, lam, speeds, keep_weights
        self.rows: list[tuple] = []
        self.weights: list[tuple] = []
        self.inexact_speeds = 0
        self.failed_speeds = 0

    def __call__(self, t: float, W) -> float:
        """Record the weights at time ``t``; returns the full-data loss L there."""
        try:
            g = _value_and_gradient(W, self.loss, self.lam)
            X, L, E, grad = g.X.copy(), g.value, g.data_loss, g.grad
        except NonFiniteError:
            X, L, E, grad = np.full(self.loss.shape, np.nan), np.inf, np.inf, None
        vertical = horizontal = np.nan
        if self.speeds and grad is not None:
            vertical, horizontal = self._speeds(W, grad)
        self.rows.append((t, X, L, E, scaled_norm(_moment_map(W)), 0.5 * scaled_norm(W) ** 2, vertical, horizontal))
        if self.keep:
            self.weights.append(tuple(w.copy() for w in W))
        return L

    def _speeds(self, W, grad) -> tuple[float, float]:
        # grad_W E = dphi^*(grad E) lies in range(dphi^*), orthogonal to the fiber, so the vertical
        # part of -grad L is -lam Pi_V(W); splitting W (not the often ill-conditioned data
        # gradient) keeps the vertical speed accurate relative to lam ||W||
        if not self.lam:
            return 0.0, scaled_norm(grad)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                w_vertical, _ = _split(W, W, SPEED_RTOL, SPEED_MAXITER)
        except (NonFiniteError, np.linalg.LinAlgError):
            self.failed_speeds += 1
            return np.nan, np.nan
        self.inexact_speeds += bool(caught)
        V_vertical = tuple(-self.lam * v for v in w_vertical)
        return scaled_norm(V_vertical), scaled_norm(tuple(-x - v for x, v in zip(grad, V_vertical, strict=True)))

    def result(self, W, *, step_index, batches, steps, evaluations, completed, failure, message,
               method) -> TrainResult:
        t, X, L, E, mu, R, v, h = zip(*self.rows, strict=True)
        columns = {"X": np.stack(X), "loss": np.array(L), "data_loss": np.array(E), "mu_norm": np.array(mu),
                   "regularizer": np.array(R)}
        if self.speeds:
            columns |= {"vertical_speed": np.array(v), "horizontal_speed": np.array(h)}
        not_finite = [name for name, col in columns.items() if not np.isfinite(col).all()]
        if failure:
            message = failure
        elif not_finite:
            failure = message = f"{message}; but the recorded {', '.join(not_finite)} are not finite in float64"
        if self.inexact_speeds:
            message += (f"; the speeds of {self.inexact_speeds} of {len(self.rows)} records are less accurate than "
                        f"{SPEED_RTOL:g} (end-to-end metric solve stopped after {SPEED_MAXITER} CG iterations)")
        return TrainResult(
            weights=tuple(np.array(w) for w in W), times=np.array(t), step_index=step_index, X=columns["X"],
            loss=columns["loss"], data_loss=columns["data_loss"], mu_norm=columns["mu_norm"],
            regularizer=columns["regularizer"], vertical_speed=np.array(v), horizontal_speed=np.array(h),
            batches=batches, trajectory=tuple(self.weights) if self.keep else None, steps=steps,
            evaluations=evaluations, converged=bool(completed and not failure), completed=bool(completed),
            message=message, method=method, lam=self.lam,
        )


def _train_flow(W, loss, lam, recorder, monitor, t_final, t_eval, rtol, atol, max_steps) -> TrainResult:
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    atol, max_steps = check_options(atol=(atol, ATOL), max_steps=max_steps)
    atol = rtol * (scaled_norm(W) or 1.0) if atol is None else atol
    last = {"weights": None, "loss": 0.0}
    divergence = {"message": ""}

    def velocity(Wt):
        try:
            g = _value_and_gradient(Wt, loss, lam)
        except NonFiniteError:  # a trial point beyond float64: the integrator rejects the step
            return tuple(np.full_like(w, np.nan) for w in Wt)
        last["weights"], last["loss"] = Wt, g.value
        return tuple(-x for x in g.grad)

    def stop(Wt):
        try:
            value = last["loss"] if last["weights"] is Wt else _value_and_gradient(Wt, loss, lam).value
        except NonFiniteError:
            value = np.inf
        divergence["message"] = monitor.check("an accepted step", value, Wt)
        return bool(divergence["message"])

    anchor = Anchor(W)
    run = integrate(ProjectedStepper(anchor.field(velocity), lambda S: S, rtol, atol), anchor.state(W), t_final,
                    t_eval=t_eval, max_steps=max_steps, stop=anchor.test(stop))
    for t, S in zip(run.times, run.weights, strict=True):
        recorder(t, anchor.strip(S))
    failure = run.failure
    if divergence["message"]:
        failure = divergence["message"].replace("an accepted step", f"t = {run.times[-1]:.6g}")
    completed = not run.failure and not run.stopped_early
    message = f"gradient flow to t = {t_final:g} in {run.steps} steps ({run.rejected} rejected)"
    return recorder.result(anchor.strip(run.final), step_index=None, batches=None, steps=run.steps,
                           evaluations=run.evaluations, completed=completed, failure=failure, message=message,
                           method="flow")


def _train_discrete(W, loss, lam, recorder, monitor, eta, steps, batch_size, rng, record_every,
                    method) -> TrainResult:
    batches = None
    if method == "sgd":
        if not isinstance(loss, DataLoss):
            raise ValueError(f"method='sgd' needs a data loss with samples (LinearRegression, MatrixSensing, "
                             f"MatrixCompletion), got {type(loss).__name__}")
        (batch_size,) = check_options(batch_size=(batch_size, BATCH_SIZE))
        if batch_size > loss.n_samples:
            raise ValueError(f"batch_size = {batch_size} is outside [1, {loss.n_samples}] (the loss has "
                             f"{loss.n_samples} samples)")
        rng = as_rng(rng)
        batches = np.stack([rng.choice(loss.n_samples, size=batch_size, replace=False) for _ in range(steps)])
    record_every = max(1, steps // 100) if record_every is None else record_every
    shrink = 1.0 - eta * lam
    recorded = [0]
    recorder(0.0, W)
    message = f"{steps} steps of {'gradient descent' if method == 'gd' else 'SGD'} with eta = {eta:g}"
    failure = ""
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            step_loss = loss if batches is None else loss.batch(batches[k - 1])
            try:
                g = _value_and_gradient(W, step_loss, 0.0)
            except NonFiniteError as exc:
                failure = f"diverged at step {k - 1}: {exc}"
                break
            failure = monitor.check(f"step {k - 1}", g.value + lam * 0.5 * sum(np.vdot(w, w).real for w in W))
            if failure:
                break
            W_next = tuple(shrink * w - eta * x for w, x in zip(W, g.grad_data, strict=True))
            if not all_finite(W_next):
                failure = f"diverged at step {k}: the weights overflow float64 (loss {g.value:.3g} at step {k - 1})"
                break
            W = W_next
            if k % record_every == 0 or k == steps:
                failure = monitor.check(f"step {k}", recorder(k * eta, W))
                recorded.append(k)
                if failure:
                    break
    taken = k if not failure or recorded[-1] == k else k - 1
    if recorded[-1] != taken:  # the last iterate reached (the one returned) is always recorded
        recorder(taken * eta, W)
        recorded.append(taken)
    if failure:
        failure += f" (eta = {eta:g} too large?); the weights of step {taken} are returned"
    return recorder.result(W, step_index=np.array(recorded), batches=batches, steps=taken, evaluations=k,
                           completed=not failure and taken == steps, failure=failure, message=message,
                           method=method)


_FLOW_ONLY = ("t_final", "t_eval")
_DISCRETE_ONLY = ("eta", "steps", "record_every", "batch_size", "rng")


def _reject_foreign_options(method: str, given: dict) -> None:
    """An option of another method would be silently ignored: name it instead."""
    foreign = _DISCRETE_ONLY if method == "flow" else _FLOW_ONLY + (("batch_size", "rng") if method == "gd" else ())
    unused = [name for name in foreign if given[name] is not None]
    if unused:
        raise ValueError(f"{', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to "
                         f"method={method!r} (it would be ignored)")


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

    Every option is checked (:mod:`dln_git.core.options`); an option of another method (``eta``
    for the flow, ``t_final`` for GD) is an error, not ignored. A run stops at the first
    non-finite or exploding loss (``|L| > 1e12 max(|L(W_0)|, |E(0)|)``, :mod:`.guards`) with
    ``converged=False`` and the step (or time) and loss in ``message``; it never records speeds
    at non-finite weights. Raises :class:`~.guards.NonFiniteError` if float64 cannot represent
    X or the gradient at ``W0`` itself.
    """
    W = tuple(np.array(w) for w in as_weights(W0))
    widths = _widths(W)
    loss = as_loss(loss, (widths[-1], widths[0]))
    (method,) = check_options(method=(method, Rule.choice(*METHODS, what="the training method")))
    lam, record_weights, speeds = check_options(lam=lam, record_weights=record_weights, speeds=speeds)
    _reject_foreign_options(method, {"t_final": t_final, "t_eval": t_eval, "eta": eta, "steps": steps,
                                     "record_every": record_every, "batch_size": batch_size, "rng": rng})
    if method == "flow" and t_final is None:
        raise ValueError("method='flow' needs t_final")
    if method != "flow":
        if eta is None or steps is None:
            raise ValueError(f"method={method!r} needs the step size eta and the number of steps")
        eta, steps, record_every = check_options(eta=(eta, ETA), steps=(steps, STEPS),
                                                 record_every=(record_every, RECORD_EVERY))
    monitor = DivergenceMonitor(_value_and_gradient(W, loss, lam).value, zero_predictor_loss(loss))
    recorder = _Recorder(loss, lam, speeds, record_weights)
    if method == "flow":
        return _train_flow(W, loss, lam, recorder, monitor, t_final, t_eval, rtol, atol, max_steps)
    return _train_discrete(W, loss, lam, recorder, monitor, eta, steps, batch_size, rng, record_every, method)
