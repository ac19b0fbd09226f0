"""Vertical, horizontal and orbit projections of weight-space vectors (docs/math section 2).

* horizontal: ``Pi_H = dphi^* (dphi dphi^*)^+ dphi`` onto ``range(dphi^*)``;
* vertical: ``Pi_V = I - Pi_H`` onto ``ker dphi = T_W F_X`` (the fiber's tangent space);
* orbit: ``P_W = A_W (A_W^* A_W)^+ A_W^*`` onto ``range(A_W)`` (gauge directions), which equals
  ``ker dphi`` at generic W exactly when no hidden layer is a funnel layer.

Accuracy and checks. The projections do not depend on the scale of W and are linear in V, so
both are brought to scale 1 first (:mod:`dln_git.core.scaling`). The linear solves stop at a
residual measured against the *layer-wise* size of the right-hand side,

* ``||dphi(V - Pi_H V)|| <= rtol sum_j ||W_N..W_{j+1}||_2 ||V_j||_F ||W_{j-1}..W_1||_2``,
* ``||A^*(V - P_W V)|| <= rtol sum_i (||V_i|| ||W_i|| + ||W_{i+1}|| ||V_{i+1}||)``,

the rounding level of evaluating ``dphi(V)`` and ``A_W^*(V)`` themselves, or at the rounding
level of evaluating the residual itself (``8 eps sum_j ||L_j|| ||Z|| ||R_j||`` for the metric
``sum_j L_j Z R_j``; ``8 eps ||A^*A|| ||xi||``) when that is larger: below it a residual cannot be
told from zero. (A bound of the form
``||dphi|| ||V||`` instead exceeds the whole right-hand side at unbalanced gauges such as
layers scaled 1e8 / 1 / 1e-8, and the solve then "converged" at ``Z = 0`` and returned V.)
After the solve the defining property is checked directly, ``dphi(Pi_V V) = 0`` and
``A_W^*(V - P_W V) = 0`` to the same level times a safety factor of 100, and a
:class:`ConvergenceWarning` is issued if either fails.
"""

from __future__ import annotations

import warnings

import numpy as np

from .end_to_end import EndToEndMetric, _differential, _differential_adjoint, backward_products, forward_products
from .errors import ConvergenceWarning
from .gauge import _action, _action_adjoint
from .gram import GramOperator
from .linalg import norm
from .options import check_options
from .scaling import ldexp_all, normalized, safe_norm, unit_scaled
from .validation import _widths, as_tangent, as_weights

__all__ = ["project_horizontal", "project_orbit", "project_vertical"]

#: How far above the requested residual the direct check may land before it warns.
CHECK_FACTOR = 100.0
#: A few units of rounding: the relative accuracy to which a residual can be evaluated.
_ROUNDING = 8.0 * np.finfo(float).eps


def _validated(W, V, rtol):
    (rtol,) = check_options(rtol=rtol)
    W = as_weights(W)
    V = as_tangent(V, _widths(W), "V")
    dtype = np.result_type(W[0], *V)
    W = tuple(w.astype(dtype, copy=False) for w in W)
    Wn, _ = normalized(W)
    Vn, e = unit_scaled(tuple(np.array(v, dtype=dtype) for v in V))
    return Wn, Vn, e, rtol


def _differential_floor(W, V) -> float:
    """``sum_j ||W_N..W_{j+1}||_2 ||V_j||_F ||W_{j-1}..W_1||_2``: the size of ``dphi(V)``'s terms."""
    F, B = forward_products(W), backward_products(W)
    N = len(W)
    total = 0.0
    for j in range(1, N + 1):
        b = 1.0 if B[j] is None else float(np.linalg.norm(B[j], 2))
        f = 1.0 if F[j - 1] is None else float(np.linalg.norm(F[j - 1], 2))
        total += b * float(np.linalg.norm(V[j - 1])) * f
    return total


def _action_floor(W, V) -> float:
    """``sum_i ||V_i|| ||W_i|| + ||W_{i+1}|| ||V_{i+1}||``: the size of ``A_W^*(V)``'s terms."""
    n = [float(np.linalg.norm(w, 2)) for w in W]
    v = [float(np.linalg.norm(x)) for x in V]
    return sum(v[i] * n[i] + n[i + 1] * v[i + 1] for i in range(len(W) - 1))


#: Largest ``d_N d_0`` for which a stagnated metric solve is redone densely (a matrix of that
#: size squared: 8 MiB at the limit).
DENSE_FALLBACK_SIZE = 1024


def _dense_metric_solve(metric, rhs, threshold):
    """Least-squares solution of ``sum_j L_j Z R_j = rhs`` from the dense matrix
    ``sum_j kron(L_j, R_j^T)`` (row-major vec), and whether its residual is below ``threshold`` or
    the rounding level of evaluating it."""
    dN, d0 = metric.x_shape
    M = np.zeros((dN * d0, dN * d0), dtype=np.result_type(metric.dtype, rhs))
    for L, R in zip(metric.left, metric.right, strict=True):
        M += np.kron(np.eye(dN) if L is None else L, (np.eye(d0) if R is None else R).T)
    z = np.linalg.lstsq(M, rhs.ravel(), rcond=None)[0]
    Z = z.reshape(dN, d0)
    return Z, bool(safe_norm(rhs - metric.apply(Z)) <= max(threshold, _metric_attainable(metric, Z)))


def _metric_attainable(metric, Z) -> float:
    """``8 eps ||Z|| sum_j ||L_j|| ||R_j||``: the rounding level of evaluating ``sum_j L_j Z R_j``."""
    return _ROUNDING * float(np.linalg.norm(Z)) * sum(
        _norm2(L) * _norm2(R) for L, R in zip(metric.left, metric.right, strict=True))


def _norm2(A) -> float:
    """Spectral norm, 1 for ``None`` (the identity factor of an end term)."""
    return 1.0 if A is None else float(np.linalg.norm(A, 2))


def _warn(name, message):
    warnings.warn(f"{name}: {message}", ConvergenceWarning, stacklevel=4)


def _horizontal(W, V, rtol, name, maxiter=None):
    """``Pi_H(V)`` at scale-1 weights and unit V, with the layer-wise stopping rule and the check."""
    floor = _differential_floor(W, V)
    if floor == 0.0:  # dphi(V) = 0 term by term: V is vertical (e.g. a zero layer's directions)
        return tuple(np.zeros_like(v) for v in V)
    metric = EndToEndMetric(W)
    rhs = _differential(W, V)
    sol = metric.solve(rhs, rtol=rtol, atol=rtol * floor, maxiter=maxiter)
    H = _differential_adjoint(W, sol.Z)
    # The residual dphi(V) - dphi dphi^*(Z) cannot be evaluated more accurately than the rounding
    # of dphi dphi^*(Z), about eps sum_j ||L_j|| ||Z|| ||R_j||: below that, it is zero.
    attainable = _metric_attainable(metric, sol.Z)
    converged = sol.converged or sol.residual * safe_norm(rhs) <= attainable
    message = f"metric solve {sol.message}"
    if not converged and rhs.size <= DENSE_FALLBACK_SIZE:
        # Krylov stagnated (layer scales 1e15 apart): solve the small dense system instead.
        Z, ok = _dense_metric_solve(metric, rhs, rtol * floor)
        if ok:
            H, converged, attainable = _differential_adjoint(W, Z), True, _metric_attainable(metric, Z)
        else:
            dense_residual = safe_norm(rhs - metric.apply(Z)) / safe_norm(rhs)
            if dense_residual < sol.residual:
                # above the tolerance (warned), but closer than the stagnated Krylov solve: kept
                H = _differential_adjoint(W, Z)
                message += (f"; the dense least-squares solve, used instead, reached {dense_residual:.2e} "
                            f"(its rounding level {_metric_attainable(metric, Z) / safe_norm(rhs):.2e})")
    if not converged:
        _warn(name, message)
    else:
        gap = safe_norm(_differential(W, tuple(v - h for v, h in zip(V, H, strict=True))))
        if gap > CHECK_FACTOR * max(rtol * floor, attainable + _ROUNDING * _differential_floor(W, H)):
            _warn(name, f"projection check failed: ||dphi(Pi_V V)|| = {gap:.2e} exceeds "
                        f"{CHECK_FACTOR:g} rtol x {floor:.2e} (layer-wise size of dphi(V))")
    return H


def project_horizontal(W, V, rtol: float = 1e-12):
    """``Pi_H(V) = dphi^*(Z)`` with ``dphi dphi^*(Z) = dphi(V)``: onto ``range(dphi_W^*)``.

    The part of V that moves X; orthogonal to the fiber. Matrix-free (CG on the end-to-end
    metric, see :func:`solve_end_to_end_metric`), to a residual
    ``||dphi(V - Pi_H V)|| <= rtol sum_j ||B_j|| ||V_j|| ||F_{j-1}||`` (module docstring), checked
    after the solve. Independent of the scale of W, linear in V; new arrays.
    """
    Wn, Vn, e, rtol = _validated(W, V, rtol)
    return ldexp_all(_horizontal(Wn, Vn, rtol, "project_horizontal"), e)


def project_vertical(W, V, rtol: float = 1e-12):
    """``Pi_V(V) = V - Pi_H(V)``: onto the fiber's tangent space ``ker dphi_W``.

    Checked: ``||dphi(Pi_V V)||`` is compared with the layer-wise size of ``dphi(V)`` (module
    docstring), and a :class:`ConvergenceWarning` says if the projection is not accurate.
    """
    Wn, Vn, e, rtol = _validated(W, V, rtol)
    H = _horizontal(Wn, Vn, rtol, "project_vertical")
    return ldexp_all(tuple(v - h for v, h in zip(Vn, H, strict=True)), e)


def project_orbit(W, V, rtol: float = 1e-12):
    """``P_W(V) = A_W(xi)`` with ``A_W^* A_W xi = A_W^*(V)``: onto the gauge directions.

    ``range(A_W) ⊆ ker dphi_W``, with equality at generic W exactly off funnel layers
    (docs/math section 2). Stops at ``||A^*(V - P_W V)|| <= rtol sum_i (||V_i|| ||W_i|| +
    ||W_{i+1}|| ||V_{i+1}||)`` and checks it after the solve.
    """
    Wn, Vn, e, rtol = _validated(W, V, rtol)
    return ldexp_all(_orbit(Wn, Vn, rtol, "project_orbit"), e)


def _orbit(Wn, Vn, rtol, name, maxiter=None):
    """``P_W(V)`` at scale-1 weights, with the layer-wise stopping rule and the check."""
    if len(Wn) == 1:
        return (np.zeros_like(Vn[0]),)
    floor = _action_floor(Wn, Vn)
    if floor == 0.0:
        return tuple(np.zeros_like(v) for v in Vn)
    gram = GramOperator(Wn)
    rhs = _action_adjoint(Wn, Vn)
    sol = gram.solve(rhs, rtol=rtol, atol=rtol * floor, maxiter=maxiter)
    P = _action(Wn, sol.xi)
    # rounding level of A^*A xi (||A^*A|| <= (2 max ||W_i||)^2): a residual below it is zero
    attainable = _ROUNDING * gram.action_norm_bound ** 2 * norm(sol.xi)
    converged = sol.converged or sol.residual * norm(rhs) <= attainable
    if not converged:
        _warn(name, sol.message)
    else:
        gap = norm(_action_adjoint(Wn, [v - p for v, p in zip(Vn, P, strict=True)]))
        if gap > CHECK_FACTOR * max(rtol * floor, attainable + _ROUNDING * _action_floor(Wn, P)) + \
                sol.rhs_outside_range * norm(rhs):
            _warn(name, f"projection check failed: ||A^*(V - P_W V)|| = {gap:.2e} exceeds "
                        f"{CHECK_FACTOR:g} rtol x {floor:.2e}")
    return P
