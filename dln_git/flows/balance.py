"""``balance``: a balanced point on the fiber of ``X = phi(W)`` by one of four methods.

Which balanced point each method reaches (docs/math sections 2-3):

* ``"newton"``: geodesic Newton on ``G/K`` from W (see :mod:`dln_git.flows.newton`): a minimiser
  of R on the closure of the gauge orbit of W, the Kempf–Ness point, unique up to
  ``K = U(d_1) x ... x U(d_{N-1})``. On closed orbits it is reached quadratically; on non-closed
  orbits it lies in the closure and convergence is only linear (flagged).
* ``"l2"``: the limit of the L2 fiber flow ``dW/dt = -Pi_V(W)``, a particular point. Off funnel
  widths it lies in the same K-orbit as Newton's point; on funnels the fiber flow may leave the
  orbit and reach a different balanced point.
* ``"moment"``: the limit of the squared-moment-map flow, in the orbit closure (the Kempf–Ness
  K-orbit on closed orbits); algebraic convergence on non-closed orbits (flagged). Integrated by
  the linearly implicit Rosenbrock–Munthe-Kaas scheme (:mod:`dln_git.flows.rosenbrock`) at the
  local tolerance :func:`moment_rtol`: its step count does not grow with ``s_max / s_min`` (N = 4,
  d = 32, Gaussian weights, tol 1e-10: about 400 steps where the explicit scheme took 12600).
* ``"svd"``: the SVD chart of X (docs/math section 2), a balanced point of the fiber with the
  minimum value of R, built directly; generally not in the orbit of W and not any flow's limit.

Degenerate and rescaled input (every method):

* Scale: the gauge action is linear, so the balanced points of ``cW`` are c times those of W.
  Each method runs on ``W / s`` (``s`` an exact power of two near the geometric mean of the
  layer norms, :func:`dln_git.core.scaling.normalized`) with tolerances taken there, and the
  result is multiplied by s: any representable W works, whether or not X itself is
  representable. ``mu_history`` is reported at the caller's scale (values below the float64
  range as 0; an overflow raises ``ValueError``).
* ``X = 0`` (a zero layer, or layers whose product vanishes; numerically ``||X||`` at most the
  rounding level of the product, ``4 eps sum_k ||W_N..W_{k+1}||_F ||W_k||_F ||W_{k-1}..W_1||_F``
  capped by ``4 N eps prod_i ||W_i||_2``
  (:func:`dln_git.core.end_to_end.product_rounding_level`), where the fiber cannot be told from
  the fiber over 0 in float64; then ``x_drift`` is relative to that level): a balanced point with
  ``X = 0`` has every layer 0 (balanced layers share their singular values, and X has them to
  the power N), and 0 lies in the orbit closure of W (scale the layers on either side of a
  zero layer, or use the Hilbert–Mumford criterion: X generates the invariants). So 0 is the
  limit of every method (the L2 fiber flow is exactly ``e^{-t} W`` there, since
  ``dphi_W(W) = N X = 0``), and every method returns zero weights with ``converged=True``.
* Budget: the flows (``"l2"``, ``"moment"``) stop with ``converged=False`` once the observed
  decay of ``||mu||`` forecasts more than ten times the remaining step budget (ill-conditioned
  X: rates ``~ s_min(X)^{2/N}``), or the budget ``max_iter`` is used up.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..core.end_to_end import _end_to_end, product_rounding_level
from ..core.moment_map import _moment_norm, _regularizer
from ..core.options import Rule
from ..core.options import check_options as _check
from ..core.regime import regime as _regime
from ..core.scaling import normalized, rescale
from ..core.svd_chart import balanced_from_end_to_end, min_regularizer
from ..core.validation import _widths, as_weights
from .l2 import SAME_FLOW_TOL, closed_in_float64, run_finite_time, run_l2
from .moment import run_moment
from .newton import newton_balance
from .progress import PROGRESS
from .results import BalanceResult
from .runner import FlowOptions

__all__ = ["balance"]

LIMITS = {
    "newton": "Kempf-Ness point of the orbit closure (a minimiser of R on it, unique up to K)",
    "l2": "limit of the L2 fiber flow dW/dt = -Pi_V(W)",
    "moment": "limit of the squared-moment-map flow (in the orbit closure)",
    "svd": "SVD chart of X: a balanced point of the fiber, generally outside the orbit of W",
}
METHOD = Rule.choice(*LIMITS, what="which balanced point (see dln_git.flows.balance)")
#: Default step budget of the flow methods (accepted plus rejected steps; at d = 3, N = 3 about
#: 1-5 ms a step, so under a minute; cond X = 1e8 needs about 4800 finite-time L2 steps).
FLOW_STEPS = 10_000
#: Largest relative X drift of a converged result (the group schemes keep X to ~1e-15).
MAX_X_DRIFT = 1e-8


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


class _Forecast:
    """``stop(W)`` for the flows: a reason to give up once the observed decay of ``||mu||`` is hopeless.

    Every ``window`` accepted steps (from the second window on) the decay rate of ``log ||mu||``
    per step over the last window gives the steps still needed to reach ``target``; if that is
    more than ``factor`` times the steps left of ``budget``, the run stops (``converged=False``).
    """

    def __init__(self, target: float, budget: int, window: int = 50, factor: float = 10.0):
        self.target, self.budget, self.window, self.factor = target, budget, window, factor
        self.logs: list[float] = []

    def __call__(self, W):
        mu = _moment_norm(W)
        self.logs.append(math.log(mu) if mu > 0 else -math.inf)
        n = len(self.logs)
        if n < 2 * self.window or n % self.window or mu <= self.target:
            return None
        rate = (self.logs[-1 - self.window] - self.logs[-1]) / self.window
        need = math.log(mu / self.target) / rate if rate > 0 else math.inf
        left = max(self.budget - n, 1)
        if need <= self.factor * left:
            return None
        per_step = f"a factor {math.exp(-rate):.6f} per step" if rate > 0 else "no decrease"
        return (f"budget: at the observed decay of ||mu|| ({per_step} over the last {self.window} steps) "
                f"the tolerance needs about {need:.2g} more steps, over {self.factor:g} times the {left} left "
                f"of max_iter = {self.budget}; ||mu|| / (tol R) = {mu / self.target:.3g}")


def moment_rtol(tol: float) -> float:
    """Local error tolerance of the Rosenbrock moment flow behind ``balance(method="moment", tol=tol)``.

    ``min(1e-6, max(100 tol, 1e-12))``. The stopping rule ``||mu|| <= tol R`` leaves the
    remaining gauge displacement to the flow's limit, about ``||(2 Herm A^*A)^{-1} mu||``; the
    integration error of the limit is about ``0.06 rtol`` (both measured, N = 4, d = 16, Gaussian
    weights, tol = 1e-10, against the limit integrated at ``rtol = 1e-12`` to ``||mu|| <= 1e-14
    R``: the explicit integrator's result at ``rtol = 1e-11`` was 1.3e-9 from it; the Rosenbrock
    limit at local tolerance 1e-9, 1e-7, 1e-5 was 1.3e-10, 6e-9, 6e-7 from the ``rtol = 1e-11``
    one). So ``rtol = 100 tol`` keeps the integration error (~ ``6 tol``) below the distance the
    stopping rule leaves, and the result is as close to the exact limit as the explicit
    integrator's was. Checked against an independent ``solve_ivp`` reference in
    tests/flows/test_rosenbrock.py.
    """
    return min(1e-6, max(100 * tol, 1e-12))


def _flow_options(V, t_final, steps, rtol, mu_tol, time_shift=0, progress=None) -> FlowOptions:
    return FlowOptions(V, float(t_final), None, rtol, None, None, steps, "summary", mu_tol, time_shift, progress)


def _run_flow(V, method: str, reg, tol: float, steps: int, progress=None):
    """The L2 or moment flow on normalised V until ``||mu|| <= tol Rmin``; returns the FlowResult."""
    X = _end_to_end(V)
    mu0 = _moment_norm(V)
    # R(W) >= Rmin along every flow, so ||mu|| <= tol Rmin guarantees ||mu|| <= tol R(W)
    target = tol * min_regularizer(X, len(V))
    rtol = min(1e-10, max(0.1 * tol, 1e-13))
    if method == "moment":
        return run_moment(_flow_options(V, 1e12, steps, moment_rtol(tol), target, progress=progress),
                          method="rosenbrock", min_step_ratio=1e-24,  # smallest step 1e-12, as before
                          budget=_Forecast(target, steps))
    same = reg.orbit_is_fiber or reg.extra_fiber_component <= SAME_FLOW_TOL
    if reg.orbit_closed and same:
        res = run_finite_time(_flow_options(V, 0.5, steps, rtol, None, progress=progress), method="group8")
        if res.reached_t_final and res.mu_norm[-1] > target:
            # polish: the L2 flow from the finite-time end point has the same limit
            t_more = 0.5 * np.log(res.mu_norm[-1] / target) + 1.0
            more = run_l2(_flow_options(res.weights, t_more, steps, rtol, target, progress=progress), method="group8",
                          space="fiber", budget=_Forecast(target, steps))
            res = _chain(res, more)
        return res
    t_final = max(1.0, 0.5 * np.log(max(mu0, 1e-300) / target) + 2.0)
    return run_l2(_flow_options(V, t_final, steps, rtol, target, progress=progress), method="group8", space="fiber",
                  budget=_Forecast(target, steps))


def _newton(V, tol, max_iter):
    run = newton_balance(V, tol=tol, max_iter=30 if max_iter is None else max_iter)
    history = run.mu_history
    if run.converged:
        message = f"converged in {run.iterations} Newton iterations"
        if run.merged:
            message += " (from the merged start" + ("" if run.coarse is None else
                                                    f"; its coarsest network, of depth {len(run.coarse.weights)}, took "
                                                    f"{run.coarse.iterations} Newton iterations") + ")"
        elif run.swept_layers:
            message += f" (after geometric-mean sweeps over {run.swept_layers} layers)"
    else:
        rates = np.array(history[1:]) / np.maximum(np.array(history[:-1]), 1e-300)
        message = (f"not converged after {run.iterations} Newton iterations: ||mu|| / (tol R) = "
                   f"{history[-1] / (tol * _regularizer(run.weights)):.2e}, last reduction factor {rates[-1]:.2f}"
                   if len(rates) else "no iteration made")
    if run.failures:
        message += "; " + "; ".join(run.failures[:3])
    return run.weights, run.iterations, history, message


def balance(W, *, method: str = "newton", tol: float = 1e-12, max_iter: int | None = None,
            progress: bool | None = None) -> BalanceResult:
    """A balanced point (``||mu|| <= tol R``) on the fiber of ``X = phi(W)``; X is kept.

    Parameters
    ----------
    W : weights
    method : {"newton", "l2", "moment", "svd"}
        See the module docstring for which balanced point each reaches.
    tol : float
        Stop when ``||mu(W)|| <= tol R(W)``, in (0, 1).
    max_iter : int, optional
        Newton iterations (default 30) or the flows' step budget (default :data:`FLOW_STEPS`).
    progress : bool, optional
        A tqdm bar on stderr for the flow methods (``"l2"``, ``"moment"``) with ``||mu|| / target``
        and the forecast of the remaining steps from the observed decay of ``||mu||``. None
        (default): shown only when stderr is a terminal and the run lasts over 2 s, never in
        process-pool workers or under a :func:`dln_git.flows.progress.quiet` block; True: always;
        False: never (see :mod:`dln_git.flows.progress`). Newton and the SVD chart take
        milliseconds to a second and show none.

    Returns
    -------
    BalanceResult
        ``converged=True`` iff ``||mu|| <= tol R`` holds at the (finite) result and X is kept
        (relative drift at most :data:`MAX_X_DRIFT`); otherwise the
        reason is in the message (for example the algebraic convergence of the moment flow, or
        linear Newton convergence, on non-closed orbits, or the flows' budget). New arrays,
        never views of W.

    Raises
    ------
    ValueError
        If an option is invalid (naming it), or the result is not representable at the scale of W.
    """
    method, tol, max_iter, progress = _check(method=(method, METHOD), tol=tol, max_iter=max_iter,
                                             progress=(progress, PROGRESS))
    W = as_weights(W)
    inputs = tuple(np.array(w) for w in W)
    limit = LIMITS[method]
    if len(W) == 1:
        return BalanceResult(tuple(np.array(w) for w in W), True, 0, np.zeros(1), 0.0, method, limit,
                             "depth 1: no hidden layer, W is balanced", inputs)
    V, s = normalized(W)
    X = _end_to_end(V)
    reg = None
    x_scale = float(np.linalg.norm(X))
    rounding = product_rounding_level(V, x_norm=x_scale)
    if x_scale <= rounding:
        Vb = tuple(np.zeros_like(v) for v in V)
        history, converged, iterations = [_moment_norm(V), 0.0], True, 0
        x_scale = max(rounding, np.finfo(float).tiny)
        message = ("X = 0" + ("" if x_scale == 0 else " to rounding (||X|| below the rounding level of the product)") +
                   ": the only balanced point over X = 0 is W = 0, the limit of every method (it lies in the "
                   "orbit closure of W; the orbit itself is not closed unless W = 0)")
    elif method == "newton":
        Vb, iterations, history, message = _newton(V, tol, max_iter)
        converged = history[-1] <= tol * _regularizer(Vb)
        if not converged:
            reg = _regime(V)
            if not reg.orbit_closed:
                message += " (linear convergence expected: the balanced point lies in the orbit closure)"
    elif method == "svd":
        Vb = balanced_from_end_to_end(X, _widths(V))
        history = [_moment_norm(V), _moment_norm(Vb)]
        converged, iterations = history[-1] <= tol * _regularizer(Vb), 1
        message = "SVD chart of X" + ("" if converged else ": ||mu|| above tol R")
    else:
        reg = _regime(V)
        res = _run_flow(V, method, reg, tol, FLOW_STEPS if max_iter is None else max_iter, progress)
        Vb, history, iterations = res.weights, list(res.mu_norm), res.steps
        converged = history[-1] <= tol * _regularizer(Vb)
        message = res.message.split("; no mu_tol requested")[0]
    finite = all(np.all(np.isfinite(v)) for v in Vb) and np.isfinite(history[-1])
    drift = float(np.linalg.norm(_end_to_end(Vb) - X)) / (x_scale or 1.0) if finite else float("inf")
    if not finite:
        converged, message = False, message + "; non-finite result"
    elif converged and drift > MAX_X_DRIFT:
        converged, message = False, message + f"; X not kept: relative drift {drift:.1e} > {MAX_X_DRIFT:.0e}"
    if (reg is not None and not reg.orbit_closed and "orbit not closed" not in message
            and not (finite and closed_in_float64(V, reg))):
        # (closed_in_float64: X only ill-conditioned beyond the regime's rank test, the orbit is closed)
        message += "; orbit not closed (some W_i has rank above rank X)"
    weights = tuple(np.array(w) for w in rescale(tuple(Vb), s, 1, "the balanced weights"))
    with np.errstate(over="ignore"):
        mu_history = np.ldexp(np.asarray(history, dtype=float), 2 * round(math.log2(s)))
    if not np.all(np.isfinite(mu_history[np.isfinite(history)])):
        raise ValueError("||mu|| along the run is not representable in float64 at this scale of W")
    return BalanceResult(weights, bool(converged), int(iterations), mu_history, drift, method, limit,
                         message, inputs, reg)
