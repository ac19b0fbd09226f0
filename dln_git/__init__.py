"""dln-git: parameter-space symmetry of deep linear networks.

Geometric invariant theory of the gauge group acting on weights, moment maps, balancing flows on
the fibers of the end-to-end map, and the decomposition of training into a regularizing flow
on fibers and a learning flow on the balanced manifold. The mathematics is in docs/math; every
formula there has a function here and a registered claim (``dln-git verify``).
"""

from .core import *  # noqa: F403
from .core import __all__ as _core_all
from .flows import (
    BalanceResult,
    FlowResult,
    balance,
    geometric_mean_balance,
    l2_flow,
    l2_flow_finite_time,
    moment_flow,
)

__version__ = "0.1.0"
__all__ = [
    *_core_all,
    "BalanceResult",
    "FlowResult",
    "__version__",
    "balance",
    "geometric_mean_balance",
    "l2_flow",
    "l2_flow_finite_time",
    "moment_flow",
]
