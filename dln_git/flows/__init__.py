"""Numerical layer: balancing flows on fibers (MATH.md section 3).

* :func:`l2_flow` — the L2 balancing flow, on the fiber (``-Pi_V(W)``) or the orbit (``-P_W(W)``);
* :func:`l2_flow_finite_time` — its finite-time form, whose end point ``s = 1/2`` is the limit;
* :func:`moment_flow` — the squared-moment-map flow ``-A_W(mu(W))``;
* :func:`balance` — a balanced point by Newton, either flow, or the SVD chart;
* :func:`geometric_mean_balance` — the closed-form N = 2 oracle.

Orbit flows are integrated by a Runge–Kutta–Munthe-Kaas DP5(4) scheme whose every update is a
gauge transformation, so X is kept to rounding error; the stiff moment flow also by a linearly
implicit Rosenbrock–Munthe-Kaas scheme (``moment_flow(method="rosenbrock")``, used by
``balance(method="moment")``). Long runs show a progress bar on a terminal
(:mod:`dln_git.flows.progress`).
"""

from .balance import balance
from .l2 import l2_flow, l2_flow_finite_time
from .moment import moment_flow
from .newton import scalar_prebalance
from .oracles import GeometricMeanBalance, geometric_mean_balance
from .results import BalanceResult, FlowResult

__all__ = [
    "BalanceResult",
    "FlowResult",
    "GeometricMeanBalance",
    "balance",
    "geometric_mean_balance",
    "l2_flow",
    "l2_flow_finite_time",
    "moment_flow",
    "scalar_prebalance",
]
