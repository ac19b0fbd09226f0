"""The training loss ``L(W) = E(phi(W)) + lam R(W)`` and its gradient in W (docs/math section 4).

``grad_{W_j} E = (W_N..W_{j+1})^* grad E(X) (W_{j-1}..W_1)^* = dphi_W^*(grad E(X))_j`` and
``grad_W (lam R) = lam W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.end_to_end import _differential_adjoint, forward_products
from ..core.moment_map import _regularizer
from ..core.validation import _widths, as_weights
from .guards import NonFiniteError, all_finite, scaled_norm
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
    """Value and gradient; raises :class:`NonFiniteError` where float64 cannot represent them.

    At real weights the gradient of a loss with complex data is its real part (the gradient of
    ``E`` restricted to real X for the real inner product); at complex weights a real ``grad E``
    is used as it is.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        F = forward_products(W)
        X = F[-1]
        if not np.isfinite(X).all():
            raise NonFiniteError(_overflow_message("the end-to-end map X = W_N ... W_1", W))
        E, G = loss._evaluate(X)
        if np.iscomplexobj(G) and not np.iscomplexobj(X):
            G = np.ascontiguousarray(G.real)
        if not (np.isfinite(E) and np.isfinite(G).all()):
            raise NonFiniteError(_overflow_message(f"the loss E(X) = {E:.3g} or its gradient", W))
        grad_data = _differential_adjoint(W, G, F)
        if not all_finite(grad_data):
            raise NonFiniteError(_overflow_message("the gradient dphi^*(grad E(X))", W))
    grad = grad_data if lam == 0.0 else tuple(g + lam * w for g, w in zip(grad_data, W, strict=True))
    value = E + lam * _regularizer(W) if lam else E
    if not np.isfinite(value):
        raise NonFiniteError(_overflow_message(f"the loss L = E + lam R = {value}", W))
    return LossGradient(value, E, grad, grad_data, X)


def _overflow_message(what: str, W) -> str:
    norms = ", ".join(f"{scaled_norm((w,)):.3g}" for w in W)
    return (f"{what} is not finite in float64 at these weights (layer norms {norms}): the weights are too "
            f"large for their product to be represented; rescale them")


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

    Raises
    ------
    NonFiniteError
        (a ValueError) where float64 cannot represent X, the loss or the gradient at these weights.
        Underflow is not an error: at weights of scale 1e-200 the gradient of a deep network
        rounds to zero, as its true value (scale 1e-200^{N-1}) is below the smallest float.
    """
    W = as_weights(W)
    widths = _widths(W)
    loss = as_loss(loss, (widths[-1], widths[0]))
    g = _value_and_gradient(W, loss, check_lam(lam))
    return LossGradient(g.value, g.data_loss, _copies(g.grad), _copies(g.grad_data), np.array(g.X))


def _copies(arrays) -> tuple[np.ndarray, ...]:
    return tuple(np.array(a) for a in arrays)


def loss_gradient(W, loss, lam: float = 0.0) -> tuple[np.ndarray, ...]:
    """``grad_W L``, ``L(W) = E(phi(W)) + lam R(W)``:

    ``grad_{W_j} L = (W_N..W_{j+1})^* grad E(X) (W_{j-1}..W_1)^* + lam W_j``.
    """
    return loss_value_and_gradient(W, loss, lam).grad
