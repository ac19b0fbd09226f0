"""Validation of the options shared by the decomposition layer's solvers."""

from __future__ import annotations

import numpy as np

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


def check_time_grid(t_final, t_eval, rtol) -> tuple[float, np.ndarray | None]:
    """Check ``t_final > 0``, ``rtol in (0, 1)`` and a strictly increasing ``t_eval`` in ``[0, t_final]``."""
    t_final = check_positive(t_final, "t_final")
    if not (0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float).ravel()
        if t_eval.size == 0 or not np.all(np.isfinite(t_eval)):
            raise ValueError("t_eval must be a non-empty array of finite times")
        if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_final:
            raise ValueError(f"t_eval must increase strictly within [0, t_final = {t_final}]")
    return t_final, t_eval
