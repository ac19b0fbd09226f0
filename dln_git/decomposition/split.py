"""Vertical/horizontal split of a velocity at W (MATH.md sections 2 and 4).

``V = Pi_V(V) + Pi_H(V)``: the vertical part is tangent to the fiber ``F_X`` (it leaves X fixed,
``dphi(Pi_V V) = 0``), the horizontal part is orthogonal to it (``Pi_H = dphi^* (dphi dphi^*)^+ dphi``).
For the training velocity ``-grad L = -dphi^*(grad E(X)) - lam W`` the data part is horizontal,
so the vertical part is exactly ``-lam Pi_V(W)``: lam times the L2 balancing field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.linalg import norm
from ..core.projections import _horizontal
from ..core.validation import _widths, as_tangent, as_weights
from .gradient import loss_value_and_gradient

__all__ = ["Split", "split", "split_training_velocity"]


@dataclass(frozen=True)
class Split:
    """``V = vertical + horizontal`` at W, with the two speeds.

    Iterates as ``(vertical, horizontal)``.
    """

    vertical: tuple[np.ndarray, ...]
    horizontal: tuple[np.ndarray, ...]

    def __iter__(self):
        return iter((self.vertical, self.horizontal))

    @property
    def vertical_speed(self) -> float:
        """``||Pi_V V||``."""
        return norm(self.vertical)

    @property
    def horizontal_speed(self) -> float:
        """``||Pi_H V||``."""
        return norm(self.horizontal)


def _split(W, V, rtol: float = 1e-12, maxiter: int | None = None) -> Split:
    horizontal = _horizontal(W, V, rtol, maxiter)
    return Split(tuple(v - h for v, h in zip(V, horizontal, strict=True)), tuple(horizontal))


def split(W, V, rtol: float = 1e-12) -> Split:
    """Split a velocity ``V`` at ``W`` into ``(Pi_V V, Pi_H V)``.

    ``Pi_H V = dphi^*(Z)`` with ``dphi dphi^*(Z) = dphi(V)`` (CG on the end-to-end metric, to
    ``rtol``), and ``Pi_V V = V - Pi_H V``. Returns a :class:`Split`, which unpacks as
    ``vertical, horizontal = split(W, V)``.
    """
    W = as_weights(W)
    V = as_tangent(V, _widths(W), "V")
    return _split(W, V, rtol)


def split_training_velocity(W, loss, lam: float = 0.0, rtol: float = 1e-12) -> Split:
    """The split of the training velocity ``-grad L(W)``, ``L = E(phi(W)) + lam R(W)``.

    Its vertical part equals ``-lam Pi_V(W)`` (MATH.md section 4).
    """
    W = as_weights(W)
    g = loss_value_and_gradient(W, loss, lam)
    return _split(W, tuple(-x for x in g.grad), rtol)
