"""Validation of the options shared by the decomposition layer's solvers."""

from __future__ import annotations

import numpy as np

from ..flows.runner import check_time_grid

__all__ = ["check_lam", "check_positive", "check_time_grid"]


def check_lam(lam) -> float:
    """``lam`` (the weight of the regularizer) as a finite non-negative float."""
    lam = float(lam)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam (the weight of the regularizer) must be finite and non-negative, got {lam}")
    return lam


def check_positive(value, name: str) -> float:
    """A finite positive float."""
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value
