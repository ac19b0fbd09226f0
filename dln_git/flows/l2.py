"""The L2 balancing flow on a fiber and its finite-time form (MATH.md section 3).

* Fiber flow (the paper's): ``dW/dt = -Pi_V(W)``, the gradient flow of R restricted to the
  fiber ``F_X``.
* Orbit flow (Kempf–Ness flow of the orbit): ``dW/dt = -P_W(W) = -A_W(xi)``,
  ``A_W^* A_W xi = mu(W)``. The two coincide wherever ``Pi_V(W) = P_W(W)`` (off funnel widths,
  and on funnels where W has no component in the extra fiber directions).
* Both satisfy ``mu(W(t)) = exp(-2t) mu(W(0))`` exactly [derived].
* Finite-time form [derived]: with ``s = (1 - exp(-2t))/2``, ``dW/ds = -A_W(xi)``,
  ``A_W^* A_W xi = mu_0``; on closed orbits its limit is reached at ``s = 1/2``.
"""

from __future__ import annotations

import numpy as np

from ..core.end_to_end import end_to_end
from ..core.moment_map import _moment_map, _moment_norm
from ..core.regime import regime as _regime
from ..core.subspaces import stabiliser_subspace
from .fields import FiberVelocity, L2Generator, fiber_retraction
from .results import FlowResult
from .runner import check_options, orbit_velocity, run_group, run_projected, run_scipy

__all__ = ["l2_flow", "l2_flow_finite_time"]

_METHODS = ("group", "scipy")
_SPACES = ("fiber", "orbit")

#: Relative size of ``||Pi_V(W) - P_W(W)||`` below which the fiber flow is integrated as the orbit flow.
SAME_FLOW_TOL = 1e-12


def _inner_rtol(rtol: float) -> float:
    """Relative residual of the inner Gram solves: below the step tolerance, above rounding."""
    return min(1e-6, max(1e-2 * rtol, 1e-12))


def _depth_one(W, flow, method, record, t_eval=None) -> FlowResult:
    times = np.zeros(1) if t_eval is None else np.union1d([0.0], t_eval)
    zero = np.zeros(times.size)
    R = np.full(times.size, 0.5 * sum(np.vdot(w, w).real for w in W))
    return FlowResult(tuple(W), times, zero, R, zero, 0, 0, 0, True,
                      "depth 1: no hidden layer, W is balanced and the flow is constant", flow, method,
                      (tuple(W),) * times.size if record == "weights" else None)


def l2_flow(
    W,
    t_final: float,
    *,
    method: str = "group",
    space: str = "fiber",
    rtol: float = 1e-10,
    atol: float | None = None,
    t_eval=None,
    step: float | None = None,
    record: str = "summary",
    max_steps: int = 20_000,
    mu_tol: float | None = None,
) -> FlowResult:
    """Integrate the L2 balancing flow from W for ``0 <= t <= t_final``; X stays fixed.

    Parameters
    ----------
    W : weights
    t_final : float
    method : {"group", "scipy"}
        ``"group"``: Runge–Kutta–Munthe-Kaas DP5(4) with adaptive step, every update a gauge
        transformation ``W_i <- exp(Theta_i) W_i exp(-Theta_{i-1})`` (X kept to rounding); for
        the fiber flow on funnels, where the velocity leaves the orbit, DP5(4) steps followed
        by a Gauss–Newton retraction onto ``phi(W) = X`` (reported as method "projected").
        ``"scipy"``: the same vector field on flattened weights through
        ``scipy.integrate.solve_ivp`` (RK45); its X drift is recorded, not corrected.
    space : {"fiber", "orbit"}
        ``"fiber"``: ``dW/dt = -Pi_V(W)`` (the paper's flow). ``"orbit"``: ``dW/dt = -P_W(W)``.
    rtol, atol : float
        Local error tolerance per step relative to ``||W||`` (atol defaults to
        ``1e-3 rtol ||W(0)||``).
    t_eval : array, optional
        Times at which to record (steps land on them exactly); default every accepted step.
    step : float, optional
        Fixed step (no error control), for convergence-order studies.
    record : {"summary", "weights"}
        Whether to keep the weights at the recorded times.
    mu_tol : float, optional
        Stop once ``||mu|| <= mu_tol``.

    Returns
    -------
    FlowResult
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if space not in _SPACES:
        raise ValueError(f"space must be one of {_SPACES}, got {space!r}")
    W, t_final, t_eval = check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps)
    flow = f"l2-{space}"
    if len(W) == 1:
        return _depth_one(W, flow, method, record, t_eval)
    notes = []
    use_fiber_scheme = False
    if space == "fiber":
        reg = _regime(W)
        if not reg.orbit_closed:
            use_fiber_scheme = True
            notes.append("orbit not closed: the gauge generator degenerates as W approaches the orbit closure, "
                         "so the fiber flow is integrated in weight space (velocity -Pi_V(W) from the end-to-end "
                         "metric) with a retraction onto the fiber")
        if not reg.orbit_is_fiber:
            if reg.extra_fiber_component > SAME_FLOW_TOL:
                use_fiber_scheme = True
                notes.append(f"funnel widths: W has a component {reg.extra_fiber_component:.2e} in the "
                             "non-gauge fiber directions, so the fiber flow leaves the orbit")
            else:
                notes.append("funnel widths, but W has no component in the extra fiber directions: "
                             "the fiber flow is the orbit flow here")
    stop = None if mu_tol is None else (lambda w: _moment_norm(w) <= mu_tol)
    inner = _inner_rtol(rtol)
    if use_fiber_scheme:
        velocity = FiberVelocity(inner)
        if method == "scipy":
            return run_scipy(W, velocity, t_final, flow=flow, rtol=rtol, atol=atol, t_eval=t_eval,
                             max_steps=max_steps, record=record, notes=notes)
        retract = fiber_retraction(end_to_end(W), velocity)
        return run_projected(W, velocity, retract, t_final, flow=flow, rtol=rtol, atol=atol, t_eval=t_eval,
                             step=step, max_steps=max_steps, record=record, stop=stop, notes=notes)
    generator = L2Generator(inner, trivial_stabiliser=stabiliser_subspace(W).dim == 0)
    if method == "scipy":
        return run_scipy(W, orbit_velocity(generator), t_final, flow=flow, rtol=rtol, atol=atol,
                         t_eval=t_eval, max_steps=max_steps, record=record, notes=notes)
    return run_group(W, generator, t_final, flow=flow, rtol=rtol, atol=atol, t_eval=t_eval, step=step,
                     max_steps=max_steps, record=record, stop=stop, notes=notes)


def l2_flow_finite_time(
    W,
    *,
    s_final: float = 0.5,
    method: str = "group",
    rtol: float = 1e-10,
    atol: float | None = None,
    s_eval=None,
    step: float | None = None,
    record: str = "summary",
    max_steps: int = 20_000,
) -> FlowResult:
    """The L2 orbit flow in the time ``s = (1 - exp(-2t))/2``: its limit at ``s = 1/2``.

    ``dW/ds = -A_W(xi)`` with ``A_W^* A_W xi = mu_0 = mu(W(0))`` (a fixed right-hand side), so
    that ``mu(W(s)) = (1 - 2s) mu_0`` and, on closed orbits, ``W(1/2)`` is the limit of the
    L2 flow as ``t -> infinity`` [derived]. On non-closed orbits ``||dW/ds|| ~ (1-2s)^{-1/2}``:
    the step size collapses before ``s = 1/2``, and the result says so (``converged=False``);
    use :func:`l2_flow` there. Times in the result are values of s; ``t = -log(1 - 2s)/2``.

    On funnel widths where W has a component in the non-gauge fiber directions this integrates
    the orbit flow, not the fiber flow (the message says so).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    s_final = float(s_final)
    if not 0 < s_final <= 0.5:
        raise ValueError(f"s_final must lie in (0, 1/2], got {s_final}")
    W, s_final, s_eval = check_options(W, s_final, rtol, atol, record, s_eval, step, max_steps)
    flow = "l2-finite-time"
    if len(W) == 1:
        return _depth_one(W, flow, method, record, s_eval)
    reg = _regime(W)
    notes = []
    if not reg.orbit_closed:
        notes.append("orbit not closed (some W_i has rank above rank X): the velocity blows up like "
                     "(1-2s)^{-1/2} at s = 1/2 and the finite-time form cannot reach the limit")
    if not reg.orbit_is_fiber and reg.extra_fiber_component > SAME_FLOW_TOL:
        notes.append("funnel widths with a non-gauge fiber component: this is the orbit flow, "
                     "not the fiber flow")
    generator = L2Generator(_inner_rtol(rtol), fixed_rhs=_moment_map(W), trivial_stabiliser=reg.stabiliser_dim == 0)
    if method == "scipy":
        return run_scipy(W, orbit_velocity(generator), s_final, flow=flow, rtol=rtol, atol=atol,
                         t_eval=s_eval, max_steps=max_steps, record=record, ivp_method="DOP853", notes=notes)
    return run_group(W, generator, s_final, flow=flow, rtol=rtol, atol=atol, t_eval=s_eval, step=step,
                     max_steps=max_steps, record=record, notes=notes, time_name="s")
