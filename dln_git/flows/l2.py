"""The L2 balancing flow on a fiber and its finite-time form (docs/math section 3).

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

from dataclasses import replace

import numpy as np

from ..core.end_to_end import _end_to_end
from ..core.moment_map import _moment_map, _moment_norm
from ..core.options import Rule
from ..core.options import check_options as _check
from ..core.regime import regime as _regime
from ..core.subspaces import stabiliser_subspace
from .fields import FiberVelocity, L2Generator, fiber_retraction
from .results import FlowResult
from .rkmk8 import run_rkmk8
from .runner import (
    FlowOptions,
    FlowScale,
    check_options,
    constant_result,
    orbit_velocity,
    run_group,
    run_projected,
    run_scipy,
)

__all__ = ["l2_flow", "l2_flow_finite_time"]

METHOD = Rule.choice("group", "group8", "scipy", what="the integration scheme")
SPACE = Rule.choice("fiber", "orbit", what="the fiber flow -Pi_V(W) or the orbit flow -P_W(W)")

#: Relative size of ``||Pi_V(W) - P_W(W)||`` below which the fiber flow is integrated as the orbit flow.
SAME_FLOW_TOL = 1e-12
#: Default ``mu_tol`` of the finite-time form, relative to ``||mu_0||`` and to ``rtol``: the
#: integration keeps ``mu(s) = (1-2s) mu_0`` to about ``rtol ||mu_0||`` per unit s (measured
#: 1e-12 at rtol = 1e-12), so the limit counts as reached at ``||mu(1/2)|| <= 1e3 rtol ||mu_0||``.
FINITE_TIME_MU_FACTOR = 1e3

DEPTH_ONE = "depth 1: no hidden layer, W is balanced and the flow is constant"


#: A generic-rank X counts as of full rank in float64 when ``s_r(X) > RANK_MARGIN * s_1(X)`` and
#: above ``10 N eps prod_i ||W_i||_2`` (ten times the rounding level of the product: no perturbation of X
#: within its rounding error makes it singular, by Weyl's inequality).
RANK_MARGIN = 1e-13


def closed_in_float64(W, reg) -> bool:
    """Whether the orbit of W is closed although :func:`dln_git.core.regime.regime` (rank of X at
    ``rtol = 1e-10``) says it is not, because X is merely ill-conditioned.

    When every hidden width equals the generic rank ``r = min(d)``, the fiber over an X of rank r
    is a single gauge orbit (``W_1`` is onto, ``W_N`` one-to-one, the interior layers invertible,
    and ``g`` is determined by them), so the orbit is closed exactly when X has rank r. Deep
    products of Gaussian layers have condition numbers far beyond 1e10 (``(64,)*9``: 4e10, with
    every layer below 3e3), which the regime's rank test reads as rank-deficient; here X is taken
    at its float64 rank instead: ``s_r(X) > max(RANK_MARGIN s_1(X), 10 N eps prod_i ||W_i||_2)``
    (measured at (64,)*9, seed 0: s_r(X) = 1.1e-10, 280 times N eps prod_i ||W_i||_2).
    """
    if reg.orbit_closed:
        return True
    r = reg.generic_rank
    if r == 0 or any(d != r for d in reg.widths[1:-1]):
        return False
    s = np.linalg.svd(_end_to_end(W), compute_uv=False)
    rounding = 10 * len(W) * np.finfo(float).eps * float(np.prod([np.linalg.norm(w, 2) for w in W]))
    return bool(s.size >= r and s[r - 1] > max(RANK_MARGIN * s[0], rounding))


#: Relative energy-norm accuracy of the inner Gram solves, as a fraction of the step tolerance:
#: past its residual threshold PCG goes on until the velocity ``A_W(xi)`` is accurate to about
#: ``ENERGY_FACTOR * rtol`` (:func:`dln_git.core.krylov.pcg`). The residual threshold alone
#: (:func:`_inner_rtol`, floored at 1e-12) leaves velocity errors of ``||r|| / sqrt(lambda_min)``:
#: from scalar-gauged starts
#: ((4,)*6, hidden gauges 10^k with |k| <= 1..3, ``||mu_0|| / Rmin`` = 1e3..4e5) the limit of
#: ``balance(method="l2")`` was 6e-8, 7e-7 and 8.5e-6 from a dense DOP853 reference at rtol 1e-13
#: (itself consistent to 1e-12 with rtol 1e-12); with this criterion 5e-10, 1e-8 and 1.1e-8
#: (0.1: 5e-9, 1.1e-7, 4.9e-8), for 15% more PCG iterations on Gaussian weights ((16,)*5:
#: 4746 against 4147; (32,)*5: 6739 against 5833).
ENERGY_FACTOR = 1e-2


def _energy_rtol(rtol: float) -> float:
    """The inner solves' energy tolerance for step tolerance ``rtol`` (:data:`ENERGY_FACTOR`)."""
    return ENERGY_FACTOR * rtol


def _inner_rtol(rtol: float) -> float:
    """Relative residual of the inner Gram solves: below the step tolerance, above rounding."""
    return min(1e-6, max(1e-2 * rtol, 1e-12))


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
    method : {"group", "group8", "scipy"}
        ``"group"``: Runge–Kutta–Munthe-Kaas DP5(4) with adaptive step, every update a gauge
        transformation ``W_i <- exp(Theta_i) W_i exp(-Theta_{i-1})`` (X kept to rounding); for
        the fiber flow on funnels, where the velocity leaves the orbit, DP5(4) steps followed
        by a Gauss–Newton retraction onto ``phi(W) = X`` (reported as method "projected").
        ``"group8"``: the same gauge updates with the eighth-order DOP853 tableau
        (:mod:`dln_git.flows.rkmk8`): about a third of the Gram solves at tight tolerances
        (the weight-space fallback on funnels stays DP5(4)).
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
    max_steps : int
        Budget of accepted plus rejected steps.
    mu_tol : float, optional
        Stop once ``||mu|| <= mu_tol``; ``converged`` says whether it was reached.

    Returns
    -------
    FlowResult
        ``converged``: ``mu_tol`` reached (False without ``mu_tol``); ``reached_t_final``: the
        run arrived at ``t_final`` within its tolerances.

    Notes
    -----
    Scale: the velocity is homogeneous of degree 1, so ``l2_flow(cW, t)`` is ``c`` times
    ``l2_flow(W, t)`` (same times); the flow runs on ``W / s`` at scale 1. On the fiber over
    ``X = 0`` (a zero layer, or cancelling layers) ``Pi_V(W) = W`` (since ``dphi_W(W) = N X = 0``),
    so the fiber flow is exactly ``W(t) = e^{-t} W``, tending to the balanced point 0.
    """
    method, space = _check(method=(method, METHOD), space=(space, SPACE))
    opts = check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps, mu_tol=mu_tol)
    flow = f"l2-{space}"
    if len(opts.W) == 1:
        return constant_result(opts.W, opts, flow=flow, method=method, reason=DEPTH_ONE)
    scale = FlowScale.of(opts.W, degree=1)
    res = run_l2(scale.inward(opts), method=method, space=space)
    return replace(scale.outward(res), solver_iterations=res.solver_iterations)


def run_l2(opts: FlowOptions, *, method: str, space: str, budget=None) -> FlowResult:
    """The L2 flow on normalised weights ``opts.W`` (scale about 1), options already checked."""
    W = opts.W
    flow = f"l2-{space}"
    notes = []
    use_fiber_scheme = False
    if space == "fiber":
        reg = _regime(W)
        if not reg.orbit_closed and closed_in_float64(W, reg):
            notes.append(f"X has numerical rank {reg.rank_x} < {reg.generic_rank} at rtol 1e-10 but full rank in "
                         "float64 and every hidden width is the generic rank: the orbit is the fiber and is closed, "
                         "integrated as the orbit flow")
        elif not reg.orbit_closed:
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
    inner = _inner_rtol(opts.rtol)
    if use_fiber_scheme:
        velocity = FiberVelocity(inner)
        if method == "scipy":
            return run_scipy(W, velocity, opts, flow=flow, notes=notes)
        retract = fiber_retraction(W, velocity)
        return run_projected(W, velocity, retract, opts, flow=flow, notes=notes, budget=budget)
    generator = L2Generator(inner, trivial_stabiliser=stabiliser_subspace(W).dim == 0,
                            energy_rtol=_energy_rtol(opts.rtol))
    if method == "scipy":
        res = run_scipy(W, orbit_velocity(generator), opts, flow=flow, notes=notes)
    elif method == "group8":
        res = run_rkmk8(W, generator, opts, flow=flow, notes=notes, budget=budget)
    else:
        res = run_group(W, generator, opts, flow=flow, notes=notes, budget=budget)
    return replace(res, solver_iterations=generator.iterations)


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
    mu_tol: float | None = None,
) -> FlowResult:
    """The L2 orbit flow in the time ``s = (1 - exp(-2t))/2``: its limit at ``s = 1/2``.

    ``dW/ds = -A_W(xi)`` with ``A_W^* A_W xi = mu_0 = mu(W(0))`` (a fixed right-hand side), so
    that ``mu(W(s)) = (1 - 2s) mu_0`` and, on closed orbits, ``W(1/2)`` is the limit of the
    L2 flow as ``t -> infinity`` [derived]. Times in the result are values of s;
    ``t = -log(1 - 2s)/2``.

    ``converged`` means the limit was reached: the run arrived at ``s_final = 1/2`` (within its
    error tolerances, inner solves converged) with ``||mu(W(1/2))|| <= mu_tol`` (default
    ``1e3 rtol ||mu_0||``, see :data:`FINITE_TIME_MU_FACTOR`). A run to ``s_final < 1/2`` is
    never converged (``reached_t_final`` says it arrived). On non-closed orbits
    ``||dW/ds|| ~ (1-2s)^{-1/2}`` and the limit lies outside the orbit: the run may arrive at
    ``s = 1/2`` (``reached_t_final``) with ``||mu||`` small, but ``W(s)`` is only Hoelder-1/2
    there and the end point is not certified (measured 1e-6 to 1e-5 from the L2 flow's limit),
    so ``converged`` is False and the message says why; use :func:`l2_flow` there.

    On funnel widths where W has a component in the non-gauge fiber directions this integrates
    the orbit flow, not the fiber flow (the message says so). Scale: homogeneous of degree 1,
    like :func:`l2_flow` (``s`` does not rescale). ``method``: ``"group"`` (RKMK DP5(4)),
    ``"group8"`` (RKMK on the DOP853 tableau, :mod:`dln_git.flows.rkmk8`, the scheme of
    ``balance(method="l2")``) or ``"scipy"`` (DOP853 on the flattened weights, X drifts);
    ``solver_iterations`` of the result counts the PCG iterations of all Gram solves.
    """
    (method,) = _check(method=(method, METHOD))
    opts = check_options(W, s_final, rtol, atol, record, s_eval, step, max_steps, mu_tol=mu_tol,
                         time_name="s_final", eval_name="s_eval")
    flow = "l2-finite-time"
    if len(opts.W) == 1:
        res = constant_result(opts.W, replace(opts, mu_tol=None), flow=flow, method=method, reason=DEPTH_ONE,
                              time_name="s")
        return _limit_verdict(res, 0.0 if opts.mu_tol is None else opts.mu_tol, opts.t_final, 0.0)
    scale = FlowScale.of(opts.W, degree=1)
    inner = scale.inward(opts)
    mu0 = _moment_norm(inner.W)
    target = FINITE_TIME_MU_FACTOR * inner.rtol * mu0 if inner.mu_tol is None else inner.mu_tol
    res = run_finite_time(replace(inner, mu_tol=None), method=method)
    if res.converged is None:  # orbit not closed (run_finite_time's mark): the end point is not certified
        res = replace(res, converged=False, message=res.message.split("; no mu_tol requested")[0] +
                      "; converged is False: on a non-closed orbit the end point is only Hoelder-1/2 in s at "
                      "s = 1/2 and is not certified as the L2 flow's limit (measured up to 1e-5 away from it); "
                      "use l2_flow")
        return replace(scale.outward(res), solver_iterations=res.solver_iterations)
    out = scale.outward(_limit_verdict(res, target, inner.t_final, mu0))
    return replace(out, solver_iterations=res.solver_iterations)


def run_finite_time(opts: FlowOptions, *, method: str) -> FlowResult:
    """The finite-time form on normalised weights (no stopping tolerance; see :func:`_limit_verdict`).

    ``converged`` is set to None on non-closed orbits (the end point cannot be certified).
    """
    W = opts.W
    flow = "l2-finite-time"
    reg = _regime(W)
    notes = []
    if not reg.orbit_closed:
        notes.append("orbit not closed (some W_i has rank above rank X): the velocity blows up like "
                     "(1-2s)^{-1/2} at s = 1/2 and the limit lies outside the orbit")
    if not reg.orbit_is_fiber and reg.extra_fiber_component > SAME_FLOW_TOL:
        notes.append("funnel widths with a non-gauge fiber component: this is the orbit flow, "
                     "not the fiber flow")
    if np.all(_end_to_end(W) == 0):
        notes.append("X = 0: the limit is W = 0, outside the orbit")
    generator = L2Generator(_inner_rtol(opts.rtol), fixed_rhs=_moment_map(W),
                            trivial_stabiliser=reg.stabiliser_dim == 0, energy_rtol=_energy_rtol(opts.rtol))
    if method == "scipy":
        res = run_scipy(W, orbit_velocity(generator), opts, flow=flow, ivp_method="DOP853", notes=notes,
                        time_name="s")
    elif method == "group8":
        res = run_rkmk8(W, generator, opts, flow=flow, notes=notes, time_name="s")
    else:
        res = run_group(W, generator, opts, flow=flow, notes=notes, time_name="s")
    res = replace(res, solver_iterations=generator.iterations)
    return res if reg.orbit_closed else replace(res, converged=None)


def _limit_verdict(res: FlowResult, target: float, s_final: float, mu0: float) -> FlowResult:
    """``converged``: the run reached ``s = 1/2`` soundly and ``||mu(W(1/2))|| <= target``."""
    message = res.message.split("; no mu_tol requested")[0]
    if s_final < 0.5:
        return replace(res, converged=False, message=f"{message}; s_final = {s_final:.6g} < 1/2: the limit is "
                       "at s = 1/2, so converged is False")
    mu_end = float(res.mu_norm[-1])
    rel, rel_target = (mu_end / mu0, target / mu0) if mu0 > 0 else (mu_end, target)
    if not res.reached_t_final:
        return replace(res, converged=False, message=f"{message}; the limit at s = 1/2 was not reached")
    if mu_end <= target:
        return replace(res, converged=True, message=f"{message}; limit reached: ||mu(W(1/2))|| / ||mu_0|| = {rel:.2e} "
                       f"<= mu_tol / ||mu_0|| = {rel_target:.2e}")
    return replace(res, converged=False, message=f"{message}; s = 1/2 reached but ||mu|| / ||mu_0|| = {rel:.2e} > "
                   f"mu_tol / ||mu_0|| = {rel_target:.2e}: not the limit")
