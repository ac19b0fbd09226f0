"""The squared-moment-map flow (MATH.md section 3).

``dW/dt = -A_W(mu(W))``, the gradient flow of ``||mu||^2 / 4`` restricted to the orbit (no linear
solve). **[paper]** converges globally; ``d/dt ||mu||^2 = -4 ||A_W(mu)||^2 <= 0``.
**[derived]** on closed orbits with equal widths ``||mu||`` decays asymptotically at the rate
``4 (1 - cos(pi/N)) s_min(X)^{2/N}``; on non-closed orbits only algebraically, ``||mu|| ~ C/t``.
"""

from __future__ import annotations

from ..core.moment_map import _moment_norm
from ..core.regime import regime as _regime
from .fields import MomentGenerator
from .l2 import _depth_one
from .results import FlowResult
from .runner import check_options, orbit_velocity, run_group, run_scipy

__all__ = ["moment_flow"]

_METHODS = ("group", "scipy")


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
) -> FlowResult:
    """Integrate the squared-moment-map flow ``dW/dt = -A_W(mu(W))`` for ``0 <= t <= t_final``.

    The generator ``-mu(W)`` is Hermitian, so ``method="group"`` (RKMK-DP5(4) gauge updates,
    see :func:`dln_git.flows.l2_flow`) keeps X to rounding error; ``method="scipy"`` runs
    ``solve_ivp`` (RK45) on flattened weights. The message says whether the orbit is closed
    (exponential convergence) or not (algebraic, ``||mu|| ~ C/t``). Options as in
    :func:`dln_git.flows.l2_flow`; ``mu_tol`` stops the run once ``||mu|| <= mu_tol``.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    W, t_final, t_eval = check_options(W, t_final, rtol, atol, record, t_eval, step, max_steps)
    if len(W) == 1:
        return _depth_one(W, "moment", method, record, t_eval)
    reg = _regime(W)
    notes = [
        "orbit closed: exponential convergence" if reg.orbit_closed
        else "orbit not closed (some W_i has rank above rank X): convergence is only algebraic, ||mu|| ~ C/t"
    ]
    generator = MomentGenerator()
    stop = None if mu_tol is None else (lambda w: _moment_norm(w) <= mu_tol)
    if method == "scipy":
        return run_scipy(W, orbit_velocity(generator), t_final, flow="moment", rtol=rtol, atol=atol,
                         t_eval=t_eval, max_steps=max_steps, record=record, notes=notes)
    return run_group(W, generator, t_final, flow="moment", rtol=rtol, atol=atol, t_eval=t_eval, step=step,
                     max_steps=max_steps, record=record, stop=stop, notes=notes, retract=False)
