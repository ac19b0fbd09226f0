"""Shared driver of the public flows: validation, the three schemes, and the FlowResult."""

from __future__ import annotations

import numpy as np
import scipy.integrate

from ..core.end_to_end import end_to_end
from ..core.gauge import _action
from ..core.moment_map import _moment_norm, _regularizer
from ..core.validation import as_weights
from .fields import fiber_retraction
from .integrators import GroupStepper, ProjectedStepper, integrate
from .results import FlowResult

__all__ = ["check_options", "check_time_grid", "run_group", "run_projected", "run_scipy"]

_RECORD = ("summary", "weights")


def check_time_grid(t_final, t_eval, rtol) -> tuple[float, np.ndarray | None]:
    """Check ``t_final > 0``, ``rtol in (0, 1)`` and a strictly increasing ``t_eval`` in ``[0, t_final]``."""
    t_final = float(t_final)
    if not np.isfinite(t_final) or t_final <= 0:
        raise ValueError(f"t_final must be a positive finite number, got {t_final}")
    if not (0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float).ravel()
        if t_eval.size == 0 or not np.all(np.isfinite(t_eval)):
            raise ValueError("t_eval must be a non-empty array of finite times")
        if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_final:
            raise ValueError(f"t_eval must increase strictly within [0, t_final = {t_final}]")
    return t_final, t_eval


def check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps):
    """Validate the common options; returns ``(W, t_final, t_eval)``."""
    W = as_weights(W)
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    if atol is not None and not atol >= 0:
        raise ValueError(f"atol must be non-negative, got {atol}")
    if record not in _RECORD:
        raise ValueError(f"record must be one of {_RECORD}, got {record!r}")
    if step is not None and not (0 < step <= t_final):
        raise ValueError(f"step must lie in (0, t_final], got {step}")
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    return W, t_final, t_eval


def _measure(trajectory_weights, X0):
    xnorm = float(np.linalg.norm(X0)) or 1.0
    mu = np.array([_moment_norm(w) for w in trajectory_weights])
    R = np.array([_regularizer(w) for w in trajectory_weights])
    drift = np.array([float(np.linalg.norm(end_to_end(w) - X0)) / xnorm for w in trajectory_weights])
    return mu, R, drift


def _result(times, weights, X0, *, steps, rejected, evaluations, converged, message, flow, method, record):
    mu, R, drift = _measure(weights, X0)
    return FlowResult(
        weights=tuple(weights[-1]),
        times=np.asarray(times, dtype=float),
        mu_norm=mu,
        regularizer=R,
        x_drift=drift,
        steps=int(steps),
        rejected=int(rejected),
        evaluations=int(evaluations),
        converged=bool(converged),
        message=message,
        flow=flow,
        method=method,
        trajectory=tuple(tuple(w) for w in weights) if record == "weights" else None,
    )


def _summary(traj, t_final, failures, notes, time_name="t"):
    parts = []
    if traj.failure:
        parts.append(traj.failure)
    elif traj.stopped_early:
        parts.append(f"stopping tolerance reached at {time_name} = {traj.t_reached:.6g}")
    else:
        parts.append(f"reached {time_name} = {t_final:.6g} in {traj.steps} steps ({traj.rejected} rejected)")
    if failures:
        parts.append("inner solves did not converge: " + "; ".join(failures))
    parts.extend(notes)
    return "; ".join(parts)


def run_group(W, generator, t_final, *, flow, rtol, atol, t_eval, step, max_steps, record, stop=None,
              notes=(), time_name="t", retract=True):
    """Integrate ``dW/dt = A_W(generator(W))`` by RKMK gauge updates."""
    X0 = end_to_end(W)
    atol = 1e-3 * rtol * _scale(W) if atol is None else atol
    stepper = GroupStepper(generator, rtol, atol, retract=fiber_retraction(X0, generator) if retract else None)
    traj = integrate(stepper, W, t_final, t_eval=t_eval, step=step, max_steps=max_steps, stop=stop,
                     time_name=time_name)
    failures = getattr(generator, "failures", [])
    if getattr(generator, "dense_fallbacks", 0):
        notes = [*notes, f"{generator.dense_fallbacks} Gram solves redone densely where PCG stagnated "
                 "(near-singular Gram operator close to the orbit closure)"]
    if traj.weight_space_steps:
        notes = [*notes, f"{traj.weight_space_steps} of {traj.steps} steps taken in weight space with a retraction "
                 "onto the fiber, where the gauge generator was ill-conditioned"]
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, converged=ok,
                   message=_summary(traj, t_final, failures, notes, time_name), flow=flow,
                   method="group", record=record)


def run_projected(W, velocity, retract, t_final, *, flow, rtol, atol, t_eval, step, max_steps, record,
                  stop=None, notes=()):
    """Integrate ``dW/dt = velocity(W)`` by DP5(4) steps each followed by ``retract``."""
    X0 = end_to_end(W)
    atol = 1e-3 * rtol * _scale(W) if atol is None else atol
    stepper = ProjectedStepper(velocity, retract, rtol, atol)
    traj = integrate(stepper, W, t_final, t_eval=t_eval, step=step, max_steps=max_steps, stop=stop)
    failures = getattr(velocity, "failures", [])  # the retraction notes its failures there too
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, converged=ok,
                   message=_summary(traj, t_final, failures, notes), flow=flow, method="projected",
                   record=record)


def run_scipy(W, velocity, t_final, *, flow, rtol, atol, t_eval, max_steps, record, ivp_method="RK45",
              notes=()):
    """``scipy.integrate.solve_ivp`` on the flattened weights with the same vector field.

    ``velocity(W)`` returns the weight-space velocity. The reference a researcher would write;
    it does not preserve X (its drift is recorded).
    """
    X0 = end_to_end(W)
    shapes = [w.shape for w in W]
    sizes = [w.size for w in W]
    dtype = np.result_type(*W)
    evaluations = 0

    def unflat(y):
        out, start = [], 0
        for shp, n in zip(shapes, sizes, strict=True):
            out.append(np.asarray(y[start:start + n]).reshape(shp))
            start += n
        return tuple(out)

    def rhs(_t, y):
        nonlocal evaluations
        evaluations += 1
        if evaluations > 13 * max_steps:
            raise _TooManySteps
        return np.concatenate([v.ravel() for v in velocity(unflat(y))])

    y0 = np.concatenate([w.ravel() for w in W]).astype(dtype)
    times = np.asarray([0.0, t_final]) if t_eval is None else np.union1d([0.0, t_final], t_eval)
    atol = 1e-3 * rtol * _scale(W) if atol is None else atol
    try:
        sol = scipy.integrate.solve_ivp(rhs, (0.0, t_final), y0, method=ivp_method, t_eval=times,
                                        rtol=rtol, atol=atol)
        success, message = bool(sol.success), str(sol.message)
        ts = sol.t
        weights = [unflat(sol.y[:, k]) for k in range(sol.y.shape[1])]
        nsteps = sol.nfev
    except _TooManySteps:
        success, message = False, f"more than {13 * max_steps} evaluations"
        ts, weights, nsteps = [0.0], [W], evaluations
    failures = getattr(velocity, "failures", [])
    parts = [f"solve_ivp({ivp_method}): {message}"]
    if failures:
        parts.append("inner solves did not converge: " + "; ".join(failures))
    parts.extend(notes)
    return _result(ts, weights, X0, steps=nsteps, rejected=0, evaluations=evaluations,
                   converged=success and not failures, message="; ".join(parts), flow=flow,
                   method="scipy", record=record)


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
