"""Linear systems layer (MATH.md section 5): Kalman realizations, Moore's balanced realization,
balanced truncation, and their exact reading on deep linear networks.

* :class:`StateSpace` — ``(A, B, C, D, dt)`` with the GL(n) action, transfer function, Markov
  parameters, poles and stability;
* :func:`gramians`, :func:`hankel_singular_values` — Lyapunov Gramians, square-root HSV;
* :func:`balanced_realization` — Moore's realization with T and T^{-1} (minimal part, unstable
  part kept whole);
* :func:`balanced_truncation` — reduced system, projections, a-priori bound, measured error;
* :func:`realization_from_weights`, :func:`reduce_network`, :func:`naive_partial_gramians` — the DLN
  correspondence.

numpy/scipy only: python-control is used by the tests as an independent oracle, never here.
"""

from .balanced import BalancedRealization, balanced_realization
from .gramians import Gramians, check_stable, gramian_factor, gramians, hankel_singular_values
from .networks import NetworkReduction, naive_partial_gramians, realization_from_weights, reduce_network
from .random import random_state_space
from .stable_split import StableSplit, split_stable
from .state_space import StateSpace, as_state_space
from .truncation import TruncationResult, balanced_truncation, hinf_norm_estimate

__all__ = [
    "BalancedRealization",
    "Gramians",
    "NetworkReduction",
    "StableSplit",
    "StateSpace",
    "TruncationResult",
    "as_state_space",
    "balanced_realization",
    "balanced_truncation",
    "check_stable",
    "gramian_factor",
    "gramians",
    "hankel_singular_values",
    "hinf_norm_estimate",
    "naive_partial_gramians",
    "random_state_space",
    "realization_from_weights",
    "reduce_network",
    "split_stable",
]
