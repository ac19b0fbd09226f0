"""The squared-moment-map flow (MATH.md section 3).

``dW/dt = -A_W(mu(W))``, the gradient flow of ``||mu||^2 / 4`` restricted to the orbit (no linear
solve). **[paper]** converges globally; ``d/dt ||mu||^2 = -4 ||A_W(mu)||^2 <= 0``.
**[derived]** on closed orbits with equal widths ``||mu||`` decays asymptotically at the rate
``4 (1 - cos(pi/N)) s_min(X)^{2/N}``; on non-closed orbits only algebraically, ``||mu|| ~ C/t``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core.options import Rule
from ..core.options import check_options as _check
from ..core.regime import regime as _regime
from .fields import MomentGenerator
from .l2 import DEPTH_ONE
from .results import FlowResult
from .rosenbrock import MomentRosenbrockStepper
from .runner import (
    FlowOptions,
    FlowScale,
    check_options,
    constant_result,
    orbit_velocity,
    run_group,
    run_scipy,
    run_stepper,
)

__all__ = ["moment_flow"]

METHOD = Rule.choice("group", "rosenbrock", "scipy",
                     what="the integrator: explicit RKMK-DP5(4), linearly implicit Rosenbrock, or solve_ivp")


def moment_flow(
    W,
    t_final: float,
    *,
    method: str = "group",
    rtol: float = 1e-10,
    atol: float | None = None,
    t_eval=None,
    step: float | None = None,
    record: str = "summary",
    max_steps: int = 100_000,
    mu_tol: float | None = None,
    progress: bool | None = None,
) -> FlowResult:
    """Integrate the squared-moment-map flow ``dW/dt = -A_W(mu(W))`` for ``0 <= t <= t_final``.

    The generator ``-mu(W)`` is Hermitian, so ``method="group"`` (RKMK-DP5(4) gauge updates,
    see :func:`dln_git.flows.l2_flow`) keeps X to rounding error; ``method="rosenbrock"`` (a
    linearly implicit Rosenbrock–Munthe-Kaas scheme of order 4 with matrix-free Krylov stage
    solves, :mod:`dln_git.flows.rosenbrock`) keeps X the same way and is the choice for stiff
    runs (ill-conditioned X, wide or deep networks, long times): its steps are limited by
    accuracy only, where the explicit scheme's are limited by the fastest rate
    ``~ 4 s_max(X)^{2/N}``; ``method="scipy"`` runs ``solve_ivp`` (RK45) on flattened weights.
    The message says whether the orbit is closed (exponential convergence) or not (algebraic,
    ``||mu|| ~ C/t``). Options as in
    :func:`dln_git.flows.l2_flow`; ``mu_tol`` stops the run once ``||mu|| <= mu_tol``, and
    ``converged`` says whether it was reached (False without ``mu_tol``; ``reached_t_final``
    says whether the run arrived at ``t_final``). ``progress``: a tqdm bar on stderr with the
    time reached, ``||mu|| / mu_tol`` and the forecast of the remaining steps (True, False, or
    None: only on a terminal and once the run has lasted 2 s; see :mod:`dln_git.flows.progress`).

    Scale [derived]: the velocity is homogeneous of degree 3, ``-A_{cW}(mu(cW)) = -c^3
    A_W(mu(W))``, so the flow from ``cW`` at time ``t`` is ``c`` times the flow from W at time
    ``c^2 t``: ``moment_flow(c W, t).weights = c * moment_flow(W, c**2 t).weights``. Times are
    reported in the caller's units. Where ``c^2 t`` underflows (weights of scale ~1e-150 and
    below over moderate times) W moves by less than rounding and is returned unchanged (copied);
    where it overflows, a ``ValueError`` names the time.
    """
    (method,) = _check(method=(method, METHOD))
    opts = check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps, mu_tol=mu_tol, progress=progress)
    if len(opts.W) == 1:
        return constant_result(opts.W, opts, flow="moment", method=method, reason=DEPTH_ONE)
    scale = FlowScale.of(opts.W, degree=3)
    inner = scale.inward(opts)
    if scale.frozen(inner):
        frozen = constant_result(inner.W, replace(opts, W=inner.W, mu_tol=inner.mu_tol), flow="moment",
                                 method=method, reason="at this scale of W the flow moves it by less than "
                                 "rounding over the requested times (t scale^2 underflows): W is returned unchanged")
        return scale.outward(frozen, map_times=False)
    return scale.outward(run_moment(inner, method=method))


def run_moment(opts: FlowOptions, *, method: str, budget=None, min_step_ratio: float = 1e-12) -> FlowResult:
    """The moment flow on normalised weights ``opts.W`` (scale about 1), options already checked.

    ``min_step_ratio`` (Rosenbrock only): steps below ``min_step_ratio * t_final`` count as a collapse.
    """
    W = opts.W
    reg = _regime(W)
    notes = [
        "orbit closed: exponential convergence" if reg.orbit_closed
        else "orbit not closed (some W_i has rank above rank X): convergence is only algebraic, ||mu|| ~ C/t"
    ]
    generator = MomentGenerator()
    if method == "scipy":
        return run_scipy(W, orbit_velocity(generator), opts, flow="moment", notes=notes)
    if method == "rosenbrock":
        atol = 1e-3 * opts.rtol * _size(W) if opts.atol is None else opts.atol
        stepper = MomentRosenbrockStepper(opts.rtol, atol)
        return run_stepper(W, stepper, opts, flow="moment", method="rosenbrock", notes=notes, budget=budget,
                           min_step_ratio=min_step_ratio)
    return run_group(W, generator, opts, flow="moment", notes=notes, retract=False, budget=budget)


def _size(W) -> float:
    return float(sum(float(np.vdot(w, w).real) for w in W)) ** 0.5 or 1.0
