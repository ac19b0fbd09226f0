"""Linear systems layer (docs/math section 5): Kalman realizations, Moore's balanced realization,
balanced truncation, and their exact reading on deep linear networks.

* :class:`StateSpace` — ``(A, B, C, D, dt)`` with the GL(n) action, transfer function, Markov
  parameters, poles and stability;
* :func:`gramians`, :func:`hankel_singular_values` — Lyapunov Gramians, square-root HSV;
* :func:`balanced_realization` — Moore's realization with T and T^{-1} (minimal part, unstable
  part kept whole);
* :func:`balanced_truncation` — reduced system, projections, a-priori bound, measured error;
* :func:`realization_from_weights`, :func:`reduce_network`, :func:`naive_partial_gramians` — the DLN
  correspondence.

Bayesian readings (:mod:`.bayes`, :mod:`.bayes_mala`): Gaussian priors on the layers, the MAP on
the balanced manifold (:func:`map_estimate`), the induced prior on X (:func:`product_prior_density`,
the exact ``(lambda/pi) K_0(lambda |x|)`` for two scalar layers, and its Laplace limit), and
posterior sampling by MALA (:func:`sample_posterior`, :func:`posterior_concentration`).

numpy/scipy only: python-control is used by the tests as an independent oracle, never here.
"""

from .balanced import BalancedRealization, balanced_realization
from .bayes import (
    MapResult,
    ProductPriorTest,
    balance_ratio,
    laplace_density,
    laplace_log_density,
    laplace_ratio,
    map_estimate,
    product_prior_cdf,
    product_prior_density,
    product_prior_log_density,
    product_prior_test,
    sample_product_prior,
    scalar_fiber_density,
)
from .bayes_mala import (
    ConcentrationTrend,
    PosteriorSample,
    gaussian_likelihood,
    posterior_concentration,
    sample_posterior,
    scalar_posterior_ratio_quantile,
    split_rhat,
)
from .gramians import Gramians, check_stable, gramian_factor, gramians, hankel_singular_values
from .networks import NetworkReduction, naive_partial_gramians, realization_from_weights, reduce_network
from .random import random_state_space
from .stable_split import StableSplit, split_stable
from .state_space import StateSpace, as_state_space
from .truncation import TruncationResult, balanced_truncation, hinf_norm_estimate

__all__ = [
    "BalancedRealization",
    "ConcentrationTrend",
    "Gramians",
    "MapResult",
    "NetworkReduction",
    "PosteriorSample",
    "ProductPriorTest",
    "StableSplit",
    "StateSpace",
    "TruncationResult",
    "as_state_space",
    "balance_ratio",
    "balanced_realization",
    "balanced_truncation",
    "check_stable",
    "gaussian_likelihood",
    "gramian_factor",
    "gramians",
    "hankel_singular_values",
    "hinf_norm_estimate",
    "laplace_density",
    "laplace_log_density",
    "laplace_ratio",
    "map_estimate",
    "naive_partial_gramians",
    "posterior_concentration",
    "product_prior_cdf",
    "product_prior_density",
    "product_prior_log_density",
    "product_prior_test",
    "random_state_space",
    "realization_from_weights",
    "reduce_network",
    "sample_posterior",
    "sample_product_prior",
    "scalar_fiber_density",
    "scalar_posterior_ratio_quantile",
    "split_rhat",
    "split_stable",
]
