"""``balance``: a balanced point on the fiber of ``X = phi(W)`` by one of four methods.

Which balanced point each method reaches (MATH.md sections 2-3):

* ``"newton"``: geodesic Newton on ``G/K`` from W (see :mod:`dln_git.flows.newton`): a minimiser
  of R on the closure of the gauge orbit of W, the Kempf–Ness point, unique up to
  ``K = U(d_1) x ... x U(d_{N-1})``. On closed orbits it is reached quadratically; on non-closed
  orbits it lies in the closure and convergence is only linear (flagged).
* ``"l2"``: the limit of the L2 fiber flow ``dW/dt = -Pi_V(W)``, a particular point. Off funnel
  widths it lies in the same K-orbit as Newton's point; on funnels the fiber flow may leave the
  orbit and reach a different balanced point.
* ``"moment"``: the limit of the squared-moment-map flow, in the orbit closure (the Kempf–Ness
  K-orbit on closed orbits); algebraic convergence on non-closed orbits (flagged).
* ``"svd"``: the SVD chart of X (MATH.md section 2), a balanced point of the fiber with the
  minimum value of R, built directly; generally not in the orbit of W and not any flow's limit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core.end_to_end import end_to_end
from ..core.moment_map import _moment_norm, _regularizer
from ..core.regime import regime as _regime
from ..core.svd_chart import balanced_from_end_to_end, min_regularizer
from ..core.validation import _widths, as_weights
from .l2 import SAME_FLOW_TOL, l2_flow, l2_flow_finite_time
from .moment import moment_flow
from .newton import newton_balance
from .results import BalanceResult

__all__ = ["balance"]

LIMITS = {
    "newton": "Kempf-Ness point of the orbit closure (a minimiser of R on it, unique up to K)",
    "l2": "limit of the L2 fiber flow dW/dt = -Pi_V(W)",
    "moment": "limit of the squared-moment-map flow (in the orbit closure)",
    "svd": "SVD chart of X: a balanced point of the fiber, generally outside the orbit of W",
}


def _chain(first, second):
    """The second run appended to the first (times of the second shifted past the first's end)."""
    return replace(
        second,
        times=np.concatenate([first.times, first.times[-1] + second.times[1:]]),
        mu_norm=np.concatenate([first.mu_norm, second.mu_norm[1:]]),
        regularizer=np.concatenate([first.regularizer, second.regularizer[1:]]),
        x_drift=np.concatenate([first.x_drift, second.x_drift[1:]]),
        steps=first.steps + second.steps,
        message=f"{first.message}; then the L2 flow from there: {second.message}",
    )


def _drift(W, X) -> float:
    xn = float(np.linalg.norm(X))
    return float(np.linalg.norm(end_to_end(W) - X)) / (xn or 1.0)


def balance(W, *, method: str = "newton", tol: float = 1e-12, max_iter: int | None = None) -> BalanceResult:
    """A balanced point (``||mu|| <= tol R``) on the fiber of ``X = phi(W)``; X is kept.

    Parameters
    ----------
    W : weights
    method : {"newton", "l2", "moment", "svd"}
        See the module docstring for which balanced point each reaches.
    tol : float
        Stop when ``||mu(W)|| <= tol R(W)``.
    max_iter : int, optional
        Newton iterations (default 30) or integrator steps for the flows (default 20000).

    Returns
    -------
    BalanceResult
        ``converged=False`` with the reason when the tolerance is not reached (for example the
        algebraic convergence of the moment flow, or linear Newton convergence, on non-closed
        orbits).
    """
    if method not in LIMITS:
        raise ValueError(f"method must be one of {tuple(LIMITS)}, got {method!r}")
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol}")
    if max_iter is not None and int(max_iter) < 1:
        raise ValueError(f"max_iter must be positive, got {max_iter}")
    W = as_weights(W)
    X = end_to_end(W)
    limit = LIMITS[method]
    if len(W) == 1:
        return BalanceResult(tuple(W), True, 0, np.zeros(1), 0.0, method, limit,
                             "depth 1: no hidden layer, W is balanced", tuple(W))
    # Newton does not need the regime unless it fails (then it explains why); the flows do
    reg = None if method == "newton" else _regime(W)
    if method == "newton":
        run = newton_balance(W, tol=tol, max_iter=30 if max_iter is None else int(max_iter))
        Wb, converged, iterations, history = run.weights, run.converged, run.iterations, run.mu_history
        if converged:
            message = f"converged in {iterations} Newton iterations"
            if run.swept_layers:
                message += f" (after geometric-mean sweeps over {run.swept_layers} layers)"
        else:
            rates = np.array(history[1:]) / np.maximum(np.array(history[:-1]), 1e-300)
            message = (f"not converged after {iterations} Newton iterations: ||mu|| = {history[-1]:.2e}, "
                       f"last reduction factor {rates[-1]:.2f}" if len(rates) else "no iteration made")
            reg = _regime(W)
            if not reg.orbit_closed:
                message += " (linear convergence expected: the balanced point lies in the orbit closure)"
        if run.failures:
            message += "; " + "; ".join(run.failures[:3])
    elif method == "svd":
        Wb = balanced_from_end_to_end(X, _widths(W))
        history = [_moment_norm(W), _moment_norm(Wb)]
        converged, iterations = history[-1] <= tol * _regularizer(Wb), 1
        message = "SVD chart of X" + ("" if converged else f": ||mu|| = {history[-1]:.2e} above tol")
    else:
        mu0 = _moment_norm(W)
        # R(W) >= Rmin along every flow, so ||mu|| <= tol Rmin guarantees ||mu|| <= tol R(W)
        target = tol * min_regularizer(X, len(W))
        steps = 20_000 if max_iter is None else int(max_iter)
        rtol = min(1e-10, max(0.1 * tol, 1e-13))
        if method == "l2":
            same = reg.orbit_is_fiber or reg.extra_fiber_component <= SAME_FLOW_TOL
            if reg.orbit_closed and same:
                res = l2_flow_finite_time(W, rtol=rtol, max_steps=steps)
                if res.converged and res.mu_norm[-1] > target:
                    # polish: the L2 flow from the finite-time end point has the same limit
                    t_more = 0.5 * np.log(res.mu_norm[-1] / target) + 1.0
                    more = l2_flow(res.weights, t_more, mu_tol=target, max_steps=steps, rtol=rtol)
                    res = _chain(res, more)
            else:
                t_final = max(1.0, 0.5 * np.log(max(mu0, 1e-300) / target) + 2.0)
                res = l2_flow(W, t_final, mu_tol=target, max_steps=steps, rtol=rtol)
        else:
            res = moment_flow(W, 1e6, mu_tol=target, max_steps=steps, rtol=rtol)
        Wb, history, iterations = res.weights, list(res.mu_norm), res.steps
        converged = history[-1] <= tol * _regularizer(Wb)
        message = res.message
    if reg is not None and not reg.orbit_closed:
        message += "; orbit not closed (some W_i has rank above rank X)"
    return BalanceResult(tuple(Wb), bool(converged), int(iterations), np.asarray(history, dtype=float),
                         _drift(Wb, X), method, limit, message, tuple(W), reg)
