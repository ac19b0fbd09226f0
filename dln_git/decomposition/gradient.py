"""The training loss ``L(W) = E(phi(W)) + lam R(W)`` and its gradient in W (MATH.md section 4).

``grad_{W_j} E = (W_N..W_{j+1})^* grad E(X) (W_{j-1}..W_1)^* = dphi_W^*(grad E(X))_j`` and
``grad_W (lam R) = lam W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.end_to_end import _differential_adjoint, forward_products
from ..core.moment_map import _regularizer
from ..core.validation import _widths, as_weights
from .losses import Loss, as_loss
from .options import check_lam

__all__ = ["LossGradient", "loss_gradient", "loss_value_and_gradient"]


@dataclass(frozen=True)
class LossGradient:
    """Value and gradient of ``L = E(phi(W)) + lam R(W)`` at one point.

    Attributes
    ----------
    value : float
        ``L(W)``.
    data_loss : float
        ``E(X)``.
    grad : tuple of ndarray
        ``grad_W L = dphi^*(grad E(X)) + lam W``.
    grad_data : tuple of ndarray
        ``grad_W E = dphi^*(grad E(X))`` alone (horizontal; ``A_W^*`` of it is zero).
    X : ndarray
        ``phi(W)``.
    """

    value: float
    data_loss: float
    grad: tuple[np.ndarray, ...]
    grad_data: tuple[np.ndarray, ...]
    X: np.ndarray


def _value_and_gradient(W, loss: Loss, lam: float) -> LossGradient:
    F = forward_products(W)
    X = F[-1]
    E, G = loss._evaluate(X)
    grad_data = _differential_adjoint(W, G, F)
    grad = grad_data if lam == 0.0 else tuple(g + lam * w for g, w in zip(grad_data, W, strict=True))
    value = E + lam * _regularizer(W) if lam else E
    return LossGradient(value, E, grad, grad_data, X)


def loss_value_and_gradient(W, loss, lam: float = 0.0) -> LossGradient:
    """``L(W) = E(phi(W)) + lam R(W)`` with its gradient, in O(N) matrix products.

    Parameters
    ----------
    W : sequence of arrays
        Weights ``(W_1, ..., W_N)``.
    loss : Loss or callable ``E(X) -> (value, grad)``
        The loss of the end-to-end map (see :mod:`dln_git.decomposition.losses`).
    lam : float
        Weight of the regularizer ``R = 1/2 sum ||W_i||^2``.
    """
    W = as_weights(W)
    widths = _widths(W)
    loss = as_loss(loss, (widths[-1], widths[0]))
    return _value_and_gradient(W, loss, check_lam(lam))


def loss_gradient(W, loss, lam: float = 0.0) -> tuple[np.ndarray, ...]:
    """``grad_W L``, ``L(W) = E(phi(W)) + lam R(W)``:

    ``grad_{W_j} L = (W_N..W_{j+1})^* grad E(X) (W_{j-1}..W_1)^* + lam W_j``.
    """
    return tuple(np.array(g) for g in loss_value_and_gradient(W, loss, lam).grad)
