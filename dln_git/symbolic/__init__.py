"""Symbolic layer (sympy): the gauge action on explicit symbolic matrices, the moment map and the
Kempf–Ness conditions derived (not typed in), identities proved to exactly zero, LaTeX, lambdify
to numpy, conservation-law counting (Marcotte–Gribonval–Peyré), and exact Wick-contraction
correlators of Gaussian deep linear networks (docs/math section 6.4).

It is the independent oracle the numerical core is tested against; nothing numerical depends on
it at run time.
"""

from .conservation import (
    ConservationLawCount,
    count_conservation_laws,
    estimate_conservation_cost,
    moment_map_jacobian_rank,
)
from .identities import Identity, IdentityReport, identity_cost, prove_identities, prove_identity
from .kempf_ness import ConditionLabel, KempfNessConditions, kempf_ness_conditions
from .lambdify import lambdify_moment_map
from .latex import to_latex
from .matrices import DEFAULT_MAX_SYMBOLS, symbolic_end_to_end, symbolic_lie_algebra, symbolic_weights
from .moment_map import derive_moment_map, moment_map_closed_form
from .wick import WickCorrelator, dln_four_point, dln_two_point, wick_correlator

__all__ = [
    "DEFAULT_MAX_SYMBOLS",
    "ConditionLabel",
    "ConservationLawCount",
    "Identity",
    "IdentityReport",
    "KempfNessConditions",
    "WickCorrelator",
    "count_conservation_laws",
    "derive_moment_map",
    "dln_four_point",
    "dln_two_point",
    "estimate_conservation_cost",
    "identity_cost",
    "kempf_ness_conditions",
    "lambdify_moment_map",
    "moment_map_closed_form",
    "moment_map_jacobian_rank",
    "prove_identities",
    "prove_identity",
    "symbolic_end_to_end",
    "symbolic_lie_algebra",
    "symbolic_weights",
    "to_latex",
    "wick_correlator",
]
