"""Decomposition layer (docs/math section 4): training read as a regularizing flow on fibers plus a
learning flow on the balanced manifold.

* losses of X with value and gradient (:mod:`.losses`), the gradient of
  ``L = E(phi(W)) + lam R(W)`` in W (:mod:`.gradient`);
* the vertical/horizontal split of any velocity (:mod:`.split`);
* training by gradient flow, GD and SGD with the decomposition recorded (:mod:`.train`);
* the learning flow of X on the balanced manifold (:mod:`.learning_flow`);
* the fast-slow system and its distance to the learning flow (:mod:`.fast_slow`);
* exact oracles for tests (:mod:`.oracles`);
* the guards every solver here shares (:mod:`.guards`): a run stops with ``converged=False`` at
  the first non-finite or exploding loss, and :class:`NonFiniteError` (a ``ValueError``) names
  weights too large for float64 to represent X or the gradient.

``converged=True`` means the requested tolerance was reached and every output is finite; a run
that merely reached its end says so in ``completed``.
"""

from .fast_slow import FastSlowDistance, FastSlowResult, fast_slow, fast_slow_distance
from .gradient import LossGradient, loss_gradient, loss_value_and_gradient
from .guards import NonFiniteError
from .learning_flow import LearningFlowResult, learning_flow, learning_velocity
from .losses import (
    CallableLoss,
    DataLoss,
    LinearRegression,
    Loss,
    MatrixCompletion,
    MatrixSensing,
    SquaredDistance,
    as_loss,
)
from .oracles import AlignedRegression, aligned_mode, aligned_regression, regularized_moment_map
from .split import Split, split, split_training_velocity
from .train import TrainResult, train

__all__ = [
    "AlignedRegression",
    "CallableLoss",
    "DataLoss",
    "FastSlowDistance",
    "FastSlowResult",
    "LearningFlowResult",
    "LinearRegression",
    "Loss",
    "LossGradient",
    "MatrixCompletion",
    "MatrixSensing",
    "NonFiniteError",
    "Split",
    "SquaredDistance",
    "TrainResult",
    "aligned_mode",
    "aligned_regression",
    "as_loss",
    "fast_slow",
    "fast_slow_distance",
    "learning_flow",
    "learning_velocity",
    "loss_gradient",
    "loss_value_and_gradient",
    "regularized_moment_map",
    "split",
    "split_training_velocity",
    "train",
]
