"""Regularizer and moment map (docs/math section 1).

* ``R(W) = 1/2 sum_i ||W_i||_F^2``
* ``mu_i(W) = W_i W_i^* - W_{i+1}^* W_{i+1}`` (i = 1..N-1), ``mu = A_W^*(W)``,
  ``d/dt R(exp(t xi).W)|_{t=0} = <xi, mu(W)>``.
"""

from __future__ import annotations

import numpy as np

from .linalg import herm
from .options import check_options
from .scaling import normalized, rescale
from .validation import as_weights

__all__ = ["is_balanced", "moment_map", "moment_norm", "regularizer"]


def _regularizer(W) -> float:
    return 0.5 * float(sum(np.vdot(w, w).real for w in W))


def _moment_map(W) -> tuple[np.ndarray, ...]:
    return tuple(W[i] @ herm(W[i]) - herm(W[i + 1]) @ W[i + 1] for i in range(len(W) - 1))


def _moment_norm(W) -> float:
    return float(np.sqrt(sum(np.vdot(m, m).real for m in _moment_map(W))))


def regularizer(W) -> float:
    """L2 regularizer ``R(W) = 1/2 sum_i ||W_i||_F^2`` (computed at scale 1: no overflow)."""
    Wn, s = normalized(as_weights(W))
    return float(rescale(_regularizer(Wn), s, 2, "R(W)"))


def moment_map(W) -> tuple[np.ndarray, ...]:
    """Moment map ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` for hidden layers i = 1..N-1.

    Each ``mu_i`` is Hermitian ``d_i x d_i``; ``mu = A_W^*(W)`` and
    ``d/dt R(exp(t xi).W)|_0 = <xi, mu>``. Empty tuple for depth 1. Computed at scale 1
    (``mu(cW) = c^2 mu(W)``): tiny weights do not underflow to a spurious ``mu = 0``.
    """
    Wn, s = normalized(as_weights(W))
    return rescale(_moment_map(Wn), s, 2, "mu(W)")


def moment_norm(W) -> float:
    """``||mu(W)|| = sqrt(sum_i ||mu_i||_F^2)`` (computed at scale 1)."""
    Wn, s = normalized(as_weights(W))
    return float(rescale(_moment_norm(Wn), s, 2, "||mu(W)||"))


def is_balanced(W, rtol: float = 1e-10) -> bool:
    """Whether ``||mu(W)|| <= rtol * 2 R(W)`` (``2R = sum ||W_i||^2``, the natural scale of mu).

    Always true for depth 1 (no hidden layer). Scale-invariant: evaluated at scale 1, so ``cW``
    is balanced exactly when W is, for every representable ``c``.
    """
    (rtol,) = check_options(rtol=rtol)
    Wn, _ = normalized(as_weights(W))
    return _moment_norm(Wn) <= rtol * 2.0 * _regularizer(Wn)
