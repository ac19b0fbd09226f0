"""Options of the decomposition layer, validated through :func:`dln_git.core.options.check_options`.

Every option of this layer goes through the package-wide table ``RULES`` (``lam``, ``rtol``,
``atol``, ``t_final``, ``eps``, ``max_steps``, ``rank_rtol``, flags) or through one of the rules
below for the options that only this layer has (the GD step size ``eta``, SGD's ``batch_size``,
``steps``, ``record_every``, the training ``method``). Errors name the argument and the value.
"""

from __future__ import annotations

import numpy as np

from ..core.options import Rule, check_option, check_options

__all__ = [
    "ATOL",
    "BATCH_SIZE",
    "ETA",
    "NOISE",
    "RECORD_EVERY",
    "SAMPLES",
    "STEPS",
    "TIME",
    "check_lam",
    "check_positive",
    "check_time_grid",
]

#: Rules of the options that have a meaning of their own in this layer.
ETA = Rule.positive("the step size of (S)GD")
STEPS = Rule.count(1, "the number of (S)GD steps")
RECORD_EVERY = Rule.count(1, "record every this many (S)GD steps", allow_none=True)
BATCH_SIZE = Rule.count(1, "samples per SGD step")
ATOL = Rule.nonnegative("an absolute tolerance, >= 0 (None: the default)", allow_none=True)
SAMPLES = Rule.count(1, "the number of samples", allow_none=True)
NOISE = Rule.nonnegative("the label noise level, >= 0")
TIME = Rule.nonnegative("a time, >= 0")


def check_lam(lam) -> float:
    """``lam`` (the weight of the regularizer) as a finite non-negative float (``RULES["lam"]``)."""
    return check_option("lam", lam)


def check_positive(value, name: str, what: str = "") -> float:
    """A finite positive float; the error names ``name``."""
    return check_option(name, value, Rule.positive(what))


def check_time_grid(t_final, t_eval, rtol) -> tuple[float, np.ndarray | None]:
    """``t_final > 0``, ``rtol`` in (0, 1) (``RULES``) and a strictly increasing ``t_eval`` in ``[0, t_final]``."""
    t_final, _ = check_options(t_final=t_final, rtol=rtol)
    if t_eval is not None:
        try:
            t_eval = np.asarray(t_eval, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"t_eval must be an array of times, got {t_eval!r}") from None
        if t_eval.size == 0 or not np.all(np.isfinite(t_eval)):
            raise ValueError("t_eval must be a non-empty array of finite times")
        if np.any(np.diff(t_eval) <= 0) or t_eval[0] < 0 or t_eval[-1] > t_final:
            raise ValueError(f"t_eval must increase strictly within [0, t_final = {t_final}]")
    return t_final, t_eval
