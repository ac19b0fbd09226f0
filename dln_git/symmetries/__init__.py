"""Related symmetry systems (docs/math section 6): gauge fixing of positively homogeneous (ReLU)
networks, SGD noise equilibria, quotient observables and Burgers shocks of the local entropy, and
symmetry via duality (parameter-space correlators).

Each reuses the core's vocabulary: the neuron-rescaling torus is the diagonal subgroup of the DLN
gauge group, its moment map is the diagonal of ``mu``, an attention pair is a depth-2 linear
network under GL(d_k).
"""

from .architectures import evaluate, network_family, sample_draws
from .burgers_quotient import quotient_vs_raw
from .correlators import correlator, input_invariance_test, output_invariance_test
from .gauge_balance import BalanceResult, balance_neurons, balance_one_hidden_layer
from .homogeneous import HomogeneousNet, cross_entropy_loss_and_grad, gd_step, homogeneous_net, mse_loss_and_grad
from .learning_rate import balanced_init, imbalanced_init, random_relu_net, scalar_sharpness
from .local_entropy import hopf_lax, local_entropy, quadrature_grid
from .lr_data import LRData, load_lr_data
from .lr_experiment import lr_points, run_lr_experiment, summarize
from .monitor import QuotientMonitor, crossing_time, predicted_transition_time, record_training, rise_time
from .neuron_torus import (
    GaugeCoordinates,
    augmented_weights,
    gauge_coordinates,
    imbalance,
    rescale_neurons,
    torus_action,
    torus_gram,
    torus_gram_apply,
)
from .noise_equilibria import (
    ExponentialSymmetry,
    expected_step_change,
    gradient_covariance,
    noether_drift,
    orbit_equilibrium,
    sgd_step_identity,
)
from .ntk import empirical_ntk
from .penalty import PenaltyFlowResult, one_hidden_layer_tau, orbit_penalty, orbit_penalty_grad, penalty_flow
from .quotient import (
    attention_observables,
    balance_pair,
    dln_observables,
    factor_pair_observables,
    neuron_invariants,
    path_norm,
    relu_observables,
)
from .sgd_noise_sim import LabelNoiseTask, off_equilibrium_start, simulate_label_noise
from .shocks import characteristics, first_crossing_time, first_shock_time, predicted_shock_time, shocks_1d
from .staged import staged_learning
from .viscous_residuals import viscous_residuals

__all__ = [
    "BalanceResult",
    "ExponentialSymmetry",
    "GaugeCoordinates",
    "HomogeneousNet",
    "LRData",
    "LabelNoiseTask",
    "PenaltyFlowResult",
    "QuotientMonitor",
    "attention_observables",
    "augmented_weights",
    "balance_neurons",
    "balance_one_hidden_layer",
    "balance_pair",
    "balanced_init",
    "characteristics",
    "correlator",
    "cross_entropy_loss_and_grad",
    "crossing_time",
    "dln_observables",
    "empirical_ntk",
    "evaluate",
    "expected_step_change",
    "factor_pair_observables",
    "first_crossing_time",
    "first_shock_time",
    "gauge_coordinates",
    "gd_step",
    "gradient_covariance",
    "homogeneous_net",
    "hopf_lax",
    "imbalance",
    "imbalanced_init",
    "input_invariance_test",
    "load_lr_data",
    "local_entropy",
    "lr_points",
    "mse_loss_and_grad",
    "network_family",
    "neuron_invariants",
    "noether_drift",
    "off_equilibrium_start",
    "one_hidden_layer_tau",
    "orbit_equilibrium",
    "orbit_penalty",
    "orbit_penalty_grad",
    "output_invariance_test",
    "path_norm",
    "penalty_flow",
    "predicted_shock_time",
    "predicted_transition_time",
    "quadrature_grid",
    "quotient_vs_raw",
    "random_relu_net",
    "record_training",
    "relu_observables",
    "rescale_neurons",
    "rise_time",
    "run_lr_experiment",
    "sample_draws",
    "scalar_sharpness",
    "sgd_step_identity",
    "shocks_1d",
    "simulate_label_noise",
    "staged_learning",
    "summarize",
    "torus_action",
    "torus_gram",
    "torus_gram_apply",
    "viscous_residuals",
]
