"""Importing this module registers every built-in claim (one module per layer)."""

from . import bayes, core, decomposition, flows, symbolic, symmetries_lr, symmetries_relu, systems  # noqa: F401
