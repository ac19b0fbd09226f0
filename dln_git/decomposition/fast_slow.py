"""The fast-slow system ``dW/dt = -grad E(W) - (1/eps) Pi_V(W)`` (docs/math section 4).

The fast part is the L2 balancing flow on the fast time ``t/eps``; since ``A_W^*(grad E) = 0`` and
``A_W^*(Pi_V W) = mu``, ``mu(W(t)) = exp(-2t/eps) mu(W(0))`` exactly. After a layer of width
O(eps) the weights are balanced and X follows the learning flow; the distance between the two is
O(eps) (Lindsey & Menon). The system is stiff (rates ~1/eps), so it is integrated by LSODA
(``scipy.integrate.solve_ivp``; BDF once stiffness is detected) on the real coordinates of W.
Radau IIA needed about ten times more evaluations here (its Newton iterations kept
re-factorising at eps = 1e-3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.integrate

from ..core.end_to_end import _end_to_end, end_to_end
from ..core.linalg import pack, unpack
from ..core.moment_map import _moment_map
from ..core.options import check_options
from ..core.validation import _widths, as_weights
from .gradient import _value_and_gradient
from .guards import DivergenceMonitor, NonFiniteError, scaled_norm, zero_predictor_loss
from .learning_flow import LearningFlowResult, learning_flow
from .losses import as_loss
from .options import ATOL, check_time_grid
from .split import _split

__all__ = ["FastSlowDistance", "FastSlowResult", "fast_slow", "fast_slow_distance"]


@dataclass(frozen=True)
class FastSlowResult:
    """A run of the fast-slow system.

    Attributes
    ----------
    weights : tuple of ndarray
        The final weights.
    times : ndarray
    X : ndarray
        ``phi(W)`` at the recorded times, shape ``(len(times), d_N, d_0)``.
    mu_norm : ndarray
        ``||mu(W)||`` at the recorded times (``exp(-2t/eps) ||mu_0||`` in exact arithmetic).
    eps : float
    evaluations : int
        Vector-field evaluations (including those of LSODA's finite-difference Jacobians).
    converged : bool
        LSODA reached ``t_final`` with its local error test (``rtol``, ``atol``) met at every
        step, and every recorded value is finite.
    completed : bool
        ``t_final`` was reached (the same as ``converged`` unless a recorded value is not finite).
    message : str
    """

    weights: tuple[np.ndarray, ...]
    times: np.ndarray
    X: np.ndarray
    mu_norm: np.ndarray
    eps: float
    evaluations: int
    converged: bool
    completed: bool
    message: str


class _RealCoordinates:
    """Weights <-> a real vector (complex entries as (real, imag) pairs, so the Jacobian is real)."""

    def __init__(self, W):
        self.shapes = [w.shape for w in W]
        self.complex = any(np.iscomplexobj(w) for w in W)

    def flatten(self, W) -> np.ndarray:
        flat = pack(W)
        return np.concatenate([flat.real, flat.imag]) if self.complex else flat.astype(float)

    def unflatten(self, y) -> tuple[np.ndarray, ...]:
        if self.complex:
            half = y.size // 2
            y = y[:half] + 1j * y[half:]
        return unpack(y, self.shapes)


def fast_slow(W0, loss, eps: float, *, t_final: float, t_eval=None, rtol: float = 1e-9,
              atol: float | None = None) -> FastSlowResult:
    """Integrate ``dW/dt = -grad E(W) - (1/eps) Pi_V(W)`` from ``W0`` to ``t_final``.

    Parameters
    ----------
    W0 : sequence of arrays
    loss : Loss or callable ``E(X) -> (value, grad)``
    eps : float
        The fast time scale (> 0).
    t_final, t_eval :
        Final time and the times to record (default: 0 and ``t_final``).
    rtol, atol :
        Tolerances of LSODA (``atol`` defaults to ``1e-2 rtol ||W0||``).

    The run stops with ``converged=False`` at the first non-finite or exploding data loss
    (``|E| > 1e12 max(|E(W0)|, |E(0)|)``, :mod:`.guards`); it then returns ``W0`` alone.
    """
    W0 = tuple(np.array(w) for w in as_weights(W0))
    widths = _widths(W0)
    loss = as_loss(loss, (widths[-1], widths[0]))
    (eps,) = check_options(eps=eps)
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    (atol,) = check_options(atol=(atol, ATOL))
    coords = _RealCoordinates(W0)
    y0 = coords.flatten(W0)
    atol = 1e-2 * rtol * (scaled_norm(W0) or 1.0) if atol is None else atol
    monitor = DivergenceMonitor(_value_and_gradient(W0, loss, 0.0).data_loss, zero_predictor_loss(loss))
    evaluations = 0

    def rhs(t, y):
        nonlocal evaluations
        evaluations += 1
        W = coords.unflatten(y)
        try:
            g = _value_and_gradient(W, loss, 0.0)
            vertical = _split(W, W).vertical
        except NonFiniteError as exc:
            raise _Diverged(t, f"diverged at t = {t:.6g}: {exc}") from None
        reason = monitor.check(f"t = {t:.6g}", g.data_loss)
        if reason:
            raise _Diverged(t, reason)
        return coords.flatten(tuple(-x - v / eps for x, v in zip(g.grad_data, vertical, strict=True)))

    times = np.array([0.0, t_final]) if t_eval is None else np.union1d([0.0, t_final], t_eval)
    try:
        sol = scipy.integrate.solve_ivp(rhs, (0.0, t_final), y0, method="LSODA", t_eval=times, rtol=rtol, atol=atol)
    except _Diverged as stop:
        return _result([W0], np.zeros(1), eps, evaluations, False, f"{stop.reason} (LSODA stage point)")
    weights = [coords.unflatten(sol.y[:, k]) for k in range(sol.y.shape[1])] or [W0]
    times = np.asarray(sol.t) if sol.t.size else np.zeros(1)
    return _result(weights, times, eps, evaluations, bool(sol.success), f"solve_ivp(LSODA): {sol.message}")


class _Diverged(Exception):
    def __init__(self, t: float, reason: str):
        super().__init__(reason)
        self.t, self.reason = t, reason


def _result(weights, times, eps, evaluations, completed, message) -> FastSlowResult:
    with np.errstate(over="ignore", invalid="ignore"):
        X = np.stack([_end_to_end(w) for w in weights])
        mu_norm = np.array([scaled_norm(_moment_map(w)) for w in weights])
    not_finite = [name for name, v in (("X", X), ("mu_norm", mu_norm)) if not np.isfinite(v).all()]
    if not_finite and completed:
        message += f"; but the recorded {', '.join(not_finite)} are not finite in float64"
    return FastSlowResult(weights=tuple(np.array(w) for w in weights[-1]), times=times, X=X, mu_norm=mu_norm,
                          eps=eps, evaluations=evaluations, converged=completed and not not_finite,
                          completed=completed, message=message)


@dataclass(frozen=True)
class FastSlowDistance:
    """Distance of the fast-slow system to the learning flow from the balanced projection.

    Attributes
    ----------
    eps : float
    distance : float
        ``max_t ||X_eps(t) - X_lf(t)||_F`` over the recorded times.
    times, distances : ndarray
        The recorded times and ``||X_eps(t) - X_lf(t)||_F`` at each.
    fast_slow : FastSlowResult
    learning : LearningFlowResult
        The learning flow of ``X_0 = phi(W_0)`` on the balanced manifold of depth N (the balanced
        projection of W_0, the L2 fiber flow's limit, has the same X and determines this flow).
    """

    eps: float
    distance: float
    times: np.ndarray
    distances: np.ndarray
    fast_slow: FastSlowResult
    learning: LearningFlowResult


def fast_slow_distance(W0, loss, eps: float, *, t_final: float, t_eval=None, rtol: float = 1e-9,
                       atol: float | None = None) -> FastSlowDistance:
    """Run :func:`fast_slow` and :func:`learning_flow` from the same X and measure their distance.

    The distance is the maximum over the recorded times, O(eps). ``t_eval`` defaults to 51
    equally spaced times in ``[0, t_final]`` together with ``eps * 10^{-1..1.5}`` (12 points), so
    that the layer ``t ~ eps`` where the distance builds up is resolved.
    """
    W0 = as_weights(W0)
    (eps,) = check_options(eps=eps)
    t_final, t_eval = check_time_grid(t_final, t_eval, rtol)
    if t_eval is None:
        layer = eps * np.logspace(-1.0, 1.5, 12)
        t_eval = np.union1d(np.linspace(0.0, t_final, 51), layer[layer < t_final])
    fs = fast_slow(W0, loss, eps, t_final=t_final, t_eval=t_eval, rtol=rtol, atol=atol)
    if not fs.converged:
        raise RuntimeError(f"fast_slow did not reach t_final: {fs.message}")
    lf = learning_flow(end_to_end(W0), loss, len(W0), t_final=t_final, t_eval=fs.times, rtol=min(rtol, 1e-10))
    if not lf.converged:
        raise RuntimeError(f"learning_flow did not reach t_final: {lf.message}")
    distances = np.linalg.norm(fs.X - lf.trajectory, axis=(1, 2))
    return FastSlowDistance(eps, float(distances.max()), fs.times, distances, fs, lf)
