"""Core DLN geometry (docs/math sections 1-2): end-to-end map, gauge action, moment map,
Gram operator, end-to-end metric, fiber projections, SVD chart and width regimes.

Weights are tuples ``(W_1, ..., W_N)`` with ``W_i`` of shape ``(d_i, d_{i-1})``; Lie algebra
elements are tuples ``(xi_1, ..., xi_{N-1})`` of square ``d_i x d_i`` arrays.
"""

from .end_to_end import (
    EndToEndMetric,
    MetricSolution,
    end_to_end,
    end_to_end_differential,
    end_to_end_differential_adjoint,
    end_to_end_metric,
    solve_end_to_end_metric,
)
from .errors import ConvergenceWarning
from .gauge import gauge_act, gauge_exp, infinitesimal_action, infinitesimal_action_adjoint
from .gram import GramOperator, GramSolution, gram_operator, solve_gram
from .linalg import inner, norm, pack, unpack
from .moment_map import is_balanced, moment_map, moment_norm, regularizer
from .projections import project_horizontal, project_orbit, project_vertical
from .regime import Regime, funnel_layers, generic_orbits_closed, regime, stabiliser_layers
from .subspaces import differential_cokernel, stabiliser_subspace
from .svd_chart import balanced_from_end_to_end, min_regularizer
from .validation import widths_of
from .weights import haar_orthonormal, random_weights

__all__ = [
    "ConvergenceWarning",
    "EndToEndMetric",
    "GramOperator",
    "GramSolution",
    "MetricSolution",
    "Regime",
    "balanced_from_end_to_end",
    "differential_cokernel",
    "end_to_end",
    "end_to_end_differential",
    "end_to_end_differential_adjoint",
    "end_to_end_metric",
    "funnel_layers",
    "gauge_act",
    "gauge_exp",
    "generic_orbits_closed",
    "gram_operator",
    "haar_orthonormal",
    "infinitesimal_action",
    "infinitesimal_action_adjoint",
    "inner",
    "is_balanced",
    "min_regularizer",
    "moment_map",
    "moment_norm",
    "norm",
    "pack",
    "project_horizontal",
    "project_orbit",
    "project_vertical",
    "random_weights",
    "regime",
    "regularizer",
    "solve_end_to_end_metric",
    "solve_gram",
    "stabiliser_layers",
    "stabiliser_subspace",
    "unpack",
    "widths_of",
]
