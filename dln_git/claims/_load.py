"""Importing this module registers every built-in claim (one module per layer)."""

from . import (  # noqa: F401
    bayes,
    core,
    decomposition,
    flows,
    symbolic,
    symmetries_burgers,
    symmetries_duality,
    symmetries_lr,
    symmetries_noise,
    symmetries_quotient,
    symmetries_relu,
    systems,
)
