"""Vertical/horizontal split of a velocity at W (docs/math sections 2 and 4).

``V = Pi_V(V) + Pi_H(V)``: the vertical part is tangent to the fiber ``F_X`` (it leaves X fixed,
``dphi(Pi_V V) = 0``), the horizontal part is orthogonal to it (``Pi_H = dphi^* (dphi dphi^*)^+ dphi``).
For the training velocity ``-grad L = -dphi^*(grad E(X)) - lam W`` the data part is horizontal,
so the vertical part is exactly ``-lam Pi_V(W)``: lam times the L2 balancing field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.linalg import norm
from ..core.options import check_options
from ..core.projections import _horizontal
from ..core.validation import _widths, as_tangent, as_weights
from .gradient import loss_value_and_gradient
from .guards import NonFiniteError, all_finite, power_of_two_exponent, rescale

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
    """The split of V at W, computed at ``2^-k W`` and ``2^-m V`` and scaled back (exact).

    ``Pi_V`` at ``cW`` is ``Pi_V`` at ``W`` (the fiber's tangent space ``{A_W(xi)}`` is invariant
    under a common scale of the layers) and the split is linear in V; so powers of two chosen to
    bring the largest entries near 1 change no digit of the answer but keep every product of the
    metric solve inside float64, at any representable scale of W and V. A real V at complex W is
    promoted to complex. The result never shares memory with W or V.
    """
    if any(np.iscomplexobj(w) for w in W) and not any(np.iscomplexobj(v) for v in V):
        V = tuple(v.astype(complex) for v in V)
    if not any(v.any() for v in V):
        return Split(tuple(np.zeros_like(v) for v in V), tuple(np.zeros_like(v) for v in V))
    k, m = power_of_two_exponent(W), power_of_two_exponent(V)
    Ws, Vs = rescale(W, k), rescale(V, m)
    horizontal = rescale(_horizontal(Ws, Vs, rtol, "split", maxiter), -m)
    if not all_finite(horizontal):
        raise NonFiniteError("the horizontal projection is not finite (the end-to-end metric solve overflowed)")
    return Split(tuple(v - h for v, h in zip(V, horizontal, strict=True)), horizontal)


def split(W, V, rtol: float = 1e-12) -> Split:
    """Split a velocity ``V`` at ``W`` into ``(Pi_V V, Pi_H V)``.

    ``Pi_H V = dphi^*(Z)`` with ``dphi dphi^*(Z) = dphi(V)`` (CG on the end-to-end metric, to
    ``rtol``), and ``Pi_V V = V - Pi_H V``. Returns a :class:`Split`, which unpacks as
    ``vertical, horizontal = split(W, V)``. Homogeneous: ``split(cW, c'V) = c' split(W, V)`` at any
    representable scales (computed at exactly rescaled inputs); a real V at complex W is promoted.
    """
    W = as_weights(W)
    V = as_tangent(V, _widths(W), "V")
    (rtol,) = check_options(rtol=rtol)
    return _split(W, V, rtol)


def split_training_velocity(W, loss, lam: float = 0.0, rtol: float = 1e-12) -> Split:
    """The split of the training velocity ``-grad L(W)``, ``L = E(phi(W)) + lam R(W)``.

    Its vertical part equals ``-lam Pi_V(W)`` (docs/math section 4).
    """
    W = as_weights(W)
    (rtol,) = check_options(rtol=rtol)
    g = loss_value_and_gradient(W, loss, lam)
    return _split(W, tuple(-x for x in g.grad), rtol)
