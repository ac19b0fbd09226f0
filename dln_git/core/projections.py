"""Vertical, horizontal and orbit projections of weight-space vectors (MATH.md section 2).

* horizontal: ``Pi_H = dphi^* (dphi dphi^*)^+ dphi`` onto ``range(dphi^*)``;
* vertical: ``Pi_V = I - Pi_H`` onto ``ker dphi = T_W F_X`` (the fiber's tangent space);
* orbit: ``P_W = A_W (A_W^* A_W)^+ A_W^*`` onto ``range(A_W)`` (gauge directions), which equals
  ``ker dphi`` at generic W exactly when no hidden layer is a funnel layer.
"""

from __future__ import annotations

import warnings

from .end_to_end import EndToEndMetric, _differential, _differential_adjoint
from .errors import ConvergenceWarning
from .gauge import _action, _action_adjoint
from .gram import GramOperator
from .linalg import norm
from .validation import _widths, as_tangent, as_weights

__all__ = ["project_horizontal", "project_orbit", "project_vertical"]


def _validated(W, V):
    W = as_weights(W)
    return W, as_tangent(V, _widths(W), "V")


def _horizontal(W, V, rtol, maxiter=None):
    metric = EndToEndMetric(W)
    # accuracy on the scale of V: dphi(V) may be rounding noise (V vertical), partly outside
    # range(dphi) when dphi is not surjective, and a purely relative tolerance cannot be met
    atol = rtol * metric.differential_norm_bound * norm(V)
    sol = metric.solve(_differential(W, V), rtol=rtol, atol=atol, maxiter=maxiter)
    if not sol.converged:
        warnings.warn(f"project_horizontal: metric solve {sol.message}", ConvergenceWarning,
                      stacklevel=3)
    return _differential_adjoint(W, sol.Z)


def project_horizontal(W, V, rtol: float = 1e-12):
    """``Pi_H(V) = dphi^*(Z)`` with ``dphi dphi^*(Z) = dphi(V)``: onto ``range(dphi_W^*)``.

    The part of V that moves X; orthogonal to the fiber. Matrix-free (CG on the end-to-end
    metric, see :func:`solve_end_to_end_metric`), to a residual of
    ``max(rtol ||dphi(V)||, rtol ||dphi|| ||V||)``.
    """
    W, V = _validated(W, V)
    return tuple(h.copy() for h in _horizontal(W, V, rtol))


def project_vertical(W, V, rtol: float = 1e-12):
    """``Pi_V(V) = V - Pi_H(V)``: onto the fiber's tangent space ``ker dphi_W``."""
    W, V = _validated(W, V)
    return tuple(v - h for v, h in zip(V, _horizontal(W, V, rtol), strict=True))


def project_orbit(W, V, rtol: float = 1e-12):
    """``P_W(V) = A_W(xi)`` with ``A_W^* A_W xi = A_W^*(V)``: onto the gauge directions.

    ``range(A_W) ⊆ ker dphi_W``, with equality at generic W exactly off funnel layers
    (MATH.md section 2).
    """
    W, V = _validated(W, V)
    if len(W) == 1:
        return (0.0 * V[0],)
    gram = GramOperator(W)
    sol = gram.solve(_action_adjoint(W, V), rtol=rtol, atol=rtol * gram.action_norm_bound * norm(V))
    if not sol.converged:
        warnings.warn(f"project_orbit: {sol.message}", ConvergenceWarning, stacklevel=2)
    return _action(W, sol.xi)
