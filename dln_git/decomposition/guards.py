"""Guards shared by the solvers of the decomposition layer: finiteness, divergence, exact rescaling.

* :class:`NonFiniteError` is raised when finite weights give a non-finite end-to-end map, loss or
  gradient (float64 cannot represent ``X = W_N ... W_1`` or ``grad E`` at that scale).
* :class:`DivergenceMonitor` stops a run at the first non-finite or exploding loss:
  ``|L_k| > DIVERGENCE_FACTOR * L_ref`` with ``L_ref = max(|L(W_0)|, |E(0)|)``, the initial loss or
  the loss of the zero predictor, whichever is larger (the scale of the problem; a run that starts
  at its minimum still has a scale to compare with). A loss a trillion times that scale is not
  training: it is the geometric growth of GD with too large a step, and it reaches 1e308 within a
  few more steps.
* :func:`power_of_two_exponent`: ``k`` with ``2^-k W`` of norm in [0.5, 1) — multiplying by a power
  of two is exact in floating point, so a scale-invariant quantity computed at ``2^-k W`` is the
  one at ``W``, without overflow or underflow in the products.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.linalg import norm
from ..core.scaling import ldexp_all, safe_norm

__all__ = [
    "DIVERGENCE_FACTOR",
    "Anchor",
    "DivergenceMonitor",
    "NonFiniteError",
    "all_finite",
    "power_of_two_exponent",
    "rescale",
    "scaled_norm",
    "zero_predictor_loss",
]

#: A run has diverged once ``|L| > DIVERGENCE_FACTOR * max(|L(W_0)|, |E(0)|)``.
DIVERGENCE_FACTOR = 1e12


class NonFiniteError(ValueError):
    """Finite input gave a non-finite end-to-end map, loss or gradient (float64 overflow)."""


def zero_predictor_loss(loss) -> float:
    """``E(0)``, the loss of the zero end-to-end map (the scale of a problem); 0 if it cannot be evaluated."""
    try:
        value = float(loss._evaluate(np.zeros(loss.shape))[0])
    except (ValueError, TypeError, ArithmeticError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def all_finite(arrays) -> bool:
    """Every entry of every array is finite."""
    return all(np.isfinite(a).all() for a in arrays)


def power_of_two_exponent(arrays) -> int:
    """``k`` such that ``2^-k * arrays`` has its largest absolute entry in [0.5, 1) (0 for zero input).

    The largest entry (not the norm) is used so that no square overflows on the way.
    """
    largest = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if largest == 0.0 or not math.isfinite(largest):
        return 0
    return math.frexp(largest)[1]


def rescale(arrays, exponent: int) -> tuple[np.ndarray, ...]:
    """``2^-exponent * arrays`` (exact, new arrays; :func:`dln_git.core.scaling.ldexp_all`)."""
    return ldexp_all(arrays, -exponent)


class DivergenceMonitor:
    """Flags the first non-finite or exploding loss of a run (see the module docstring).

    Parameters
    ----------
    initial_loss : float
        ``L(W_0)``.
    zero_loss : float
        ``E(0)``, the data loss of the zero predictor.
    """

    def __init__(self, initial_loss: float, zero_loss: float):
        self.initial = float(initial_loss)
        zero_loss = float(zero_loss)
        self.reference = max(abs(self.initial), abs(zero_loss) if math.isfinite(zero_loss) else 0.0)
        self.bound = DIVERGENCE_FACTOR * self.reference

    def check(self, where: str, loss: float, weights=None) -> str:
        """``""`` if ``loss`` (and ``weights``, if given) are fine, else the reason the run diverged."""
        if weights is not None and not all_finite(weights):
            return f"diverged at {where}: the weights are no longer finite (loss {loss:.3g})"
        if not math.isfinite(loss):
            return f"diverged at {where}: loss {loss} is not finite"
        if self.reference > 0 and abs(loss) > self.bound:
            return (f"diverged at {where}: loss {loss:.3g} (|L| > {DIVERGENCE_FACTOR:.0e} x the loss scale "
                    f"{self.reference:.3g} = max(|L(W_0)|, |E(0)|))")
        return ""


def scaled_norm(arrays) -> float:
    """``sqrt(sum_i ||A_i||_F^2)`` without over- or underflow (:func:`dln_git.core.scaling.safe_norm`)."""
    return safe_norm(tuple(arrays))


class Anchor:
    """A constant unit component carried along an integration whose state has norm 0 in float64.

    The adaptive integrator of :mod:`dln_git.flows.integrators` sizes its first step as
    ``0.5 rtol^{1/5} ||W|| / ||dW/dt||``, which is 0 for ``W = 0`` (or weights below ~1e-154,
    whose squared norm underflows), so a depth-1 network started at zero never moves. With the
    state ``(W, 1)`` (velocity ``(dW/dt, 0)``) the step and the error scale
    ``atol + rtol ||(W, 1)||`` are those of unit-size weights. Inactive (the state is W itself)
    whenever ``||W|| > 0``.
    """

    def __init__(self, W):
        self.active = norm(W) == 0.0

    def state(self, W) -> tuple:
        return (*W, np.ones((1, 1))) if self.active else tuple(W)

    def strip(self, S) -> tuple:
        return tuple(S[:-1]) if self.active else S

    def field(self, f):
        """``f`` on W, as a field on the state."""
        return (lambda S: (*f(S[:-1]), np.zeros((1, 1)))) if self.active else f

    def map(self, g):
        """A map ``W -> W'`` (a retraction), as a map of states."""
        return (lambda S: (*g(S[:-1]), S[-1])) if self.active else g

    def test(self, p):
        """A predicate of W, as a predicate of states."""
        return (lambda S: p(S[:-1])) if self.active else p
