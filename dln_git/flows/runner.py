"""Shared driver of the public flows: option checks, scale normalisation, the schemes, the FlowResult.

Scale [derived]: each flow is homogeneous, ``F(cW) = c^p F(W)`` (``p = 1`` for the L2 flows,
whose velocity ``-Pi_V(W)`` or ``-A_W(xi)`` is linear in the scale; ``p = 3`` for the moment
flow ``-A_W(mu(W))``). So ``W(t)`` solves the flow from ``W_0`` iff ``V(tau) = W(t)/s`` with
``tau = s^{p-1} t`` solves it from ``W_0 / s``. Every flow therefore runs on ``V = W / s``
(``s`` the power of two of :func:`dln_git.core.scaling.scale_of`, so the division is exact), in
the time ``tau``, with ``atol / s`` and ``mu_tol / s^2``, and the result is mapped back:
weights times s, times divided by ``s^{p-1}``, ``||mu||`` and R times ``s^2`` (values below the
float64 range are reported as 0; an overflow raises ``ValueError`` naming the quantity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.integrate

from ..core.end_to_end import _end_to_end
from ..core.gauge import _action
from ..core.moment_map import _moment_norm, _regularizer
from ..core.options import Rule
from ..core.options import check_options as _check
from ..core.scaling import scale_of
from ..core.validation import as_weights
from .fields import fiber_retraction
from .integrators import GroupStepper, ProjectedStepper, integrate
from .progress import PROGRESS, FlowProgress
from .results import FlowResult

__all__ = ["FlowOptions", "FlowScale", "check_options", "check_time_grid", "run_group", "run_projected",
           "run_scipy", "run_stepper"]

RECORD = Rule.choice("summary", "weights", what="keep only ||mu||, R, X drift, or the weights too")
MU_TOL = Rule.nonnegative("stop once ||mu(W)|| <= mu_tol", allow_none=True)
ATOL = Rule.nonnegative("an absolute tolerance on the weights, >= 0", allow_none=True)


def check_time_grid(t_final, t_eval, rtol, *, time_name: str = "t_final",
                    eval_name: str = "t_eval") -> tuple[float, np.ndarray | None]:
    """Check ``t_final`` and ``rtol`` (rules of :data:`dln_git.core.options.RULES`) and ``t_eval``.

    ``t_eval`` must be a non-empty, strictly increasing array of finite times in ``[0, t_final]``.
    Returns ``(t_final, t_eval)`` with ``t_eval`` a float array (or None).
    """
    t_final, _ = _check(**{time_name: t_final}, rtol=rtol)
    if t_eval is not None:
        try:
            t_eval = np.asarray(t_eval, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"{eval_name} must be an array of times, got {t_eval!r}") from None
        if t_eval.size == 0 or not np.all(np.isfinite(t_eval)):
            raise ValueError(f"{eval_name} must be a non-empty array of finite times")
        if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_final:
            raise ValueError(f"{eval_name} must increase strictly within [0, {time_name} = {t_final}]")
    return t_final, t_eval


@dataclass(frozen=True)
class FlowOptions:
    """The checked options of a flow (see :func:`check_options`)."""

    W: tuple
    t_final: float
    t_eval: np.ndarray | None
    rtol: float
    atol: float | None
    step: float | None
    max_steps: int
    record: str
    mu_tol: float | None
    time_shift: int = 0  # the run's times are the caller's times 2^time_shift (for messages)
    progress: bool | None = None  # progress bar (see dln_git.flows.progress): None = auto


def check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps, *, mu_tol=None,
                  time_name: str = "t_final", eval_name: str = "t_eval", progress=None) -> FlowOptions:
    """Validate the weights and the common options of the flows through :mod:`dln_git.core.options`.

    Errors name the argument. ``step`` must also be at most the final time. ``progress``: see
    :mod:`dln_git.flows.progress` (True, False, or None for automatic).
    """
    W = as_weights(W)
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol, time_name=time_name, eval_name=eval_name)
    atol, record, step, max_steps, mu_tol, progress = _check(
        atol=(atol, ATOL), record=(record, RECORD), step=step, max_steps=max_steps, mu_tol=(mu_tol, MU_TOL),
        progress=(progress, PROGRESS))
    if step is not None and step > t_final:
        raise ValueError(f"step = {step!r} exceeds {time_name} = {t_final!r}")
    return FlowOptions(W, t_final, t_eval, float(rtol), atol, step, max_steps, record, mu_tol, progress=progress)


def _times(value, k: int, name: str):
    """``value * 2^k`` (float or array), or a ValueError naming ``name`` if it overflows."""
    if value is None:
        return None
    with np.errstate(over="ignore"):
        out = np.ldexp(np.asarray(value, dtype=float), k)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} times the weights' scale^2 overflows float64: the flow time is not "
                         "representable at this scale of W; rescale the weights")
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class FlowScale:
    """``W = 2^k V``: the flow runs on V in the time ``tau = 2^{(p-1) k} t`` (see the module docstring)."""

    k: int
    degree: int

    @classmethod
    def of(cls, W, degree: int) -> FlowScale:
        return cls(round(math.log2(scale_of(W))), degree)

    @property
    def time_shift(self) -> int:
        return (self.degree - 1) * self.k

    def inward(self, opts: FlowOptions) -> FlowOptions:
        """The options of the normalised problem (weights ``W / s``, times ``s^{p-1} t``)."""
        sh = self.time_shift
        return FlowOptions(
            W=tuple(w * 2.0 ** -self.k for w in opts.W) if self.k else tuple(np.array(w) for w in opts.W),
            t_final=_times(opts.t_final, sh, "t_final"),
            t_eval=_times(opts.t_eval, sh, "t_eval"),
            rtol=opts.rtol,
            atol=None if opts.atol is None else float(np.ldexp(opts.atol, -self.k)),
            step=_times(opts.step, sh, "step"),
            max_steps=opts.max_steps,
            record=opts.record,
            mu_tol=None if opts.mu_tol is None else float(np.ldexp(opts.mu_tol, -2 * self.k)),
            time_shift=sh,
            progress=opts.progress,
        )

    def frozen(self, inner: FlowOptions) -> bool:
        """Whether the normalised time span underflowed: W moves by less than rounding."""
        return inner.t_final < 1e-280 or (inner.t_eval is not None and np.any(np.diff(inner.t_eval) <= 0))

    def _weights(self, W):
        return tuple(w * 2.0**self.k for w in W) if self.k else tuple(np.array(w) for w in W)

    def _quadratic(self, values, name):
        with np.errstate(over="ignore"):
            out = np.ldexp(np.asarray(values, dtype=float), 2 * self.k)
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{name} is not representable in float64 at this scale of W (it overflows); "
                             "rescale the weights")
        return out

    def outward(self, res: FlowResult, map_times: bool = True) -> FlowResult:
        """The result of the normalised problem mapped back to the scale of W (new arrays)."""
        traj = None if res.trajectory is None else tuple(self._weights(w) for w in res.trajectory)
        return FlowResult(
            weights=self._weights(res.weights),
            times=np.ldexp(res.times, -self.time_shift) if map_times else res.times.copy(),
            mu_norm=self._quadratic(res.mu_norm, "||mu||"),
            regularizer=self._quadratic(res.regularizer, "R(W)"),
            x_drift=res.x_drift.copy(),
            steps=res.steps, rejected=res.rejected, evaluations=res.evaluations,
            converged=res.converged, message=res.message, flow=res.flow, method=res.method,
            trajectory=traj, reached_t_final=res.reached_t_final,
        )


def _measure(trajectory_weights, X0):
    xnorm = float(np.linalg.norm(X0)) or 1.0
    mu = np.array([_moment_norm(w) for w in trajectory_weights])
    R = np.array([_regularizer(w) for w in trajectory_weights])
    drift = np.array([float(np.linalg.norm(_end_to_end(w) - X0)) / xnorm for w in trajectory_weights])
    return mu, R, drift


def _verdict(mu_end: float, mu_tol, ok: bool, finite: bool, reached: bool, time_name: str) -> tuple[bool, str]:
    """``converged`` (mu_tol reached, run sound, output finite) and a sentence on it."""
    if not finite:
        return False, "non-finite output"
    if mu_tol is None:
        return False, (f"no mu_tol requested, so converged is False (reached_t_final = {ok and reached} "
                       f"says whether the run reached its final {time_name})")
    if mu_end <= mu_tol and ok:
        return True, ""
    if mu_end <= mu_tol:
        return False, "mu_tol reached but the run is not sound (see above)"
    ratio = mu_end / mu_tol if mu_tol > 0 else float("inf")
    return False, f"mu_tol not reached: ||mu|| / mu_tol = {ratio:.3g} at the end"


def _result(times, weights, X0, *, steps, rejected, evaluations, ok, reached, mu_tol, message, flow, method,
            record, time_name="t"):
    mu, R, drift = _measure(weights, X0)
    finite = bool(all(np.all(np.isfinite(w)) for w in weights[-1]) and np.all(np.isfinite(mu))
                  and np.all(np.isfinite(R)))
    converged, why = _verdict(float(mu[-1]), mu_tol, ok, finite, reached, time_name)
    return FlowResult(
        weights=tuple(np.array(w) for w in weights[-1]),
        times=np.asarray(times, dtype=float),
        mu_norm=mu,
        regularizer=R,
        x_drift=drift,
        steps=int(steps),
        rejected=int(rejected),
        evaluations=int(evaluations),
        converged=converged,
        message="; ".join(p for p in (message, why) if p),
        flow=flow,
        method=method,
        trajectory=tuple(tuple(w) for w in weights) if record == "weights" else None,
        reached_t_final=bool(ok and reached and finite),
    )


def constant_result(W, opts: FlowOptions, *, flow, method, reason, time_name="t") -> FlowResult:
    """The flow that does not move (depth 1, or a time span below rounding): W copied at every time."""
    times = np.union1d([0.0, opts.t_final], [] if opts.t_eval is None else opts.t_eval)
    weights = [tuple(np.array(w) for w in W) for _ in times]
    return _result(times, weights, _end_to_end(W), steps=0, rejected=0, evaluations=0, ok=True, reached=True,
                   mu_tol=opts.mu_tol, message=reason, flow=flow, method=method, record=opts.record,
                   time_name=time_name)


def _summary(traj, opts: FlowOptions, failures, notes, time_name="t"):
    def shown(x: float) -> str:
        return f"{np.ldexp(x, -opts.time_shift):.6g}"

    parts = []
    if traj.failure:
        parts.append(traj.failure)
    elif traj.stopped_early:
        parts.append(f"stopping tolerance reached at {time_name} = {shown(traj.t_reached)}")
    else:
        parts.append(f"reached {time_name} = {shown(opts.t_final)} in {traj.steps} steps ({traj.rejected} rejected)")
    if failures:
        parts.append("inner solves did not converge: " + "; ".join(failures))
    parts.extend(notes)
    return "; ".join(parts)


def _mu_stop(mu_tol, budget):
    """``stop(W)`` for :func:`integrate`: True once ``||mu|| <= mu_tol``, else ``budget(W)`` (a reason or None)."""
    if mu_tol is None and budget is None:
        return None

    def stop(W):
        if mu_tol is not None and _moment_norm(W) <= mu_tol:
            return True
        return None if budget is None else budget(W)

    return stop


def _integrate(stepper, W, opts: FlowOptions, budget, flow: str, time_name: str, min_step_ratio: float = 1e-12):
    """:func:`integrate` with the options, the stopping rule and the progress bar of ``opts``."""
    bar = FlowProgress(opts.progress, desc=f"{flow} flow", target=opts.mu_tol, t_final=opts.t_final,
                       time_shift=opts.time_shift)
    try:
        return integrate(stepper, W, opts.t_final, t_eval=opts.t_eval, step=opts.step, max_steps=opts.max_steps,
                         stop=_mu_stop(opts.mu_tol, budget), time_name=time_name, time_shift=opts.time_shift,
                         on_step=bar if bar.enabled else None, min_step_ratio=min_step_ratio)
    finally:
        bar.close()


def run_group(W, generator, opts: FlowOptions, *, flow, notes=(), time_name="t", retract=True, budget=None):
    """Integrate ``dW/dt = A_W(generator(W))`` by RKMK gauge updates."""
    X0 = _end_to_end(W)
    atol = 1e-3 * opts.rtol * _scale(W) if opts.atol is None else opts.atol
    stepper = GroupStepper(generator, opts.rtol, atol,
                           retract=fiber_retraction(W, generator) if retract else None)
    traj = _integrate(stepper, W, opts, budget, flow, time_name)
    failures = getattr(generator, "failures", [])
    if getattr(generator, "dense_fallbacks", 0):
        notes = [*notes, f"{generator.dense_fallbacks} Gram solves redone densely where PCG stagnated "
                 "(near-singular Gram operator close to the orbit closure)"]
    if traj.weight_space_steps:
        notes = [*notes, f"{traj.weight_space_steps} of {traj.steps} steps taken in weight space with a retraction "
                 "onto the fiber, where the gauge generator was ill-conditioned"]
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, ok=ok, reached=not traj.stopped_early, mu_tol=opts.mu_tol,
                   message=_summary(traj, opts, failures, notes, time_name), flow=flow,
                   method="group", record=opts.record, time_name=time_name)


def run_stepper(W, stepper, opts: FlowOptions, *, flow, method, notes=(), time_name="t", budget=None,
                min_step_ratio: float = 1e-12):
    """Integrate with a ready-made ``stepper`` (e.g. :class:`dln_git.flows.rosenbrock.MomentRosenbrockStepper`).

    The stepper's ``failures`` (inner solves that did not converge) are reported like
    :func:`run_group`'s; its ``krylov_iterations`` and ``solves``, if any, are noted in the message.
    A step below ``min_step_ratio * t_final`` counts as a step-size collapse.
    """
    X0 = _end_to_end(W)
    traj = _integrate(stepper, W, opts, budget, flow, time_name, min_step_ratio)
    failures = list(getattr(stepper, "failures", []))
    if getattr(stepper, "solves", 0):
        notes = [*notes, f"{stepper.krylov_iterations} Krylov iterations in {stepper.solves} stage solves"]
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, ok=ok, reached=not traj.stopped_early, mu_tol=opts.mu_tol,
                   message=_summary(traj, opts, failures, notes, time_name), flow=flow,
                   method=method, record=opts.record, time_name=time_name)


def run_projected(W, velocity, retract, opts: FlowOptions, *, flow, notes=(), budget=None):
    """Integrate ``dW/dt = velocity(W)`` by DP5(4) steps each followed by ``retract``."""
    X0 = _end_to_end(W)
    atol = 1e-3 * opts.rtol * _scale(W) if opts.atol is None else opts.atol
    stepper = ProjectedStepper(velocity, retract, opts.rtol, atol)
    traj = _integrate(stepper, W, opts, budget, flow, "t")
    failures = getattr(velocity, "failures", [])  # the retraction notes its failures there too
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, ok=ok, reached=not traj.stopped_early, mu_tol=opts.mu_tol,
                   message=_summary(traj, opts, failures, notes), flow=flow, method="projected",
                   record=opts.record)


def run_scipy(W, velocity, opts: FlowOptions, *, flow, ivp_method="RK45", notes=(), time_name="t"):
    """``scipy.integrate.solve_ivp`` on the flattened weights with the same vector field.

    ``velocity(W)`` returns the weight-space velocity. The reference a researcher would write;
    it does not preserve X (its drift is recorded). At most ``13 max_steps`` evaluations.
    """
    X0 = _end_to_end(W)
    shapes = [w.shape for w in W]
    sizes = [w.size for w in W]
    dtype = np.result_type(*W)
    evaluations = 0
    cap = 13 * opts.max_steps

    def unflat(y):
        out, start = [], 0
        for shp, n in zip(shapes, sizes, strict=True):
            out.append(np.asarray(y[start:start + n]).reshape(shp))
            start += n
        return tuple(out)

    def rhs(_t, y):
        nonlocal evaluations
        evaluations += 1
        if evaluations > cap:
            raise _TooManySteps
        return np.concatenate([v.ravel() for v in velocity(unflat(y))])

    y0 = np.concatenate([w.ravel() for w in W]).astype(dtype)
    times = np.asarray([0.0, opts.t_final]) if opts.t_eval is None else np.union1d([0.0, opts.t_final], opts.t_eval)
    atol = 1e-3 * opts.rtol * _scale(W) if opts.atol is None else opts.atol
    try:
        sol = scipy.integrate.solve_ivp(rhs, (0.0, opts.t_final), y0, method=ivp_method, t_eval=times,
                                        rtol=opts.rtol, atol=atol)
        success, message = bool(sol.success), str(sol.message)
        ts = sol.t
        weights = [unflat(sol.y[:, k]) for k in range(sol.y.shape[1])]
        nsteps = sol.nfev
    except _TooManySteps:
        success, message = False, f"budget exhausted: more than {cap} evaluations (13 max_steps)"
        ts, weights, nsteps = [0.0], [W], evaluations
    failures = getattr(velocity, "failures", [])
    parts = [f"solve_ivp({ivp_method}): {message}"]
    if failures:
        parts.append("inner solves did not converge: " + "; ".join(failures))
    parts.extend(notes)
    ok = success and not failures
    reached = ok and len(ts) > 0 and ts[-1] == opts.t_final
    return _result(ts, weights, X0, steps=nsteps, rejected=0, evaluations=evaluations, ok=ok, reached=reached,
                   mu_tol=opts.mu_tol, message="; ".join(parts), flow=flow, method="scipy", record=opts.record,
                   time_name=time_name)


class _TooManySteps(RuntimeError):
    pass


def orbit_velocity(generator):
    """The weight-space velocity ``A_W(F(W))`` of a gauge generator (for the scipy scheme)."""

    def velocity(W):
        return _action(W, generator(W))

    velocity.failures = generator.failures if hasattr(generator, "failures") else []
    return velocity


def _scale(W) -> float:
    return float(np.sqrt(sum(np.vdot(w, w).real for w in W))) or 1.0
