"""Shared plumbing of the strategies: argument checks, the seed strategy, widths dispatch.

``_SEEDS`` draws the integer seed fed to ``numpy.random.default_rng`` for the orthonormal
factors; ``WidthsLike`` is a fixed widths tuple or a Hypothesis strategy of tuples, and
``_with_widths`` applies a builder to either (validating a fixed tuple at once, flat-mapping a
strategy). The ``_check_*`` helpers raise ``ValueError`` naming the argument and the bad value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)

WidthsLike = Sequence[int] | st.SearchStrategy


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if not _is_int(value):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_cond(cond: Any) -> float:
    try:
        cond = float(cond)
    except (TypeError, ValueError):
        raise ValueError(f"cond must be a real number >= 1, got {cond!r}") from None
    if not (math.isfinite(cond) and cond >= 1.0):
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    return cond


def _check_scale(scale: Any, *, allow_zero: bool = False) -> float:
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a real number, got {scale!r}") from None
    ok = math.isfinite(scale) and (scale >= 0.0 if allow_zero else scale > 0.0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"scale must be finite and {bound}, got {scale!r}")
    return scale


def _check_widths(widths: Any) -> tuple[int, ...]:
    bad_array = isinstance(widths, np.ndarray) and widths.ndim != 1
    if bad_array or isinstance(widths, st.SearchStrategy | str | bytes):
        raise ValueError(f"widths must be a tuple of positive ints, got {widths!r}")
    try:
        d = tuple(widths)
    except TypeError:
        raise ValueError(f"widths must be a tuple of positive ints, got {widths!r}") from None
    if len(d) < 2:
        raise ValueError(f"widths must have length N + 1 >= 2 (depth N >= 1), got {d!r}")
    for i, di in enumerate(d):
        if not _is_int(di) or int(di) < 1:
            raise ValueError(f"widths must be positive ints, got d_{i} = {di!r} in {d!r}")
    return tuple(int(di) for di in d)


def _with_widths(
    widths: WidthsLike, build: Callable[[tuple[int, ...]], st.SearchStrategy]
) -> st.SearchStrategy:
    """Apply ``build`` to a fixed widths tuple, or flatmap it over a strategy of widths."""
    if isinstance(widths, st.SearchStrategy):
        return widths.flatmap(lambda d: build(_check_widths(d)))
    return build(_check_widths(widths))


def _dtype(is_complex: bool) -> type:
    return np.complex128 if is_complex else np.float64
