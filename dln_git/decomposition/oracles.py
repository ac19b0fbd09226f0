"""Exact solutions for tests (docs/math section 4).

* :func:`regularized_moment_map`: ``mu(t) = exp(-2 lam t) mu(0)`` along the training flow, any E.
* Whitened regression from a balanced, aligned start (Saxe, McClelland & Ganguli 2014 for N = 2;
  the depth-N analogue): with ``E = 1/2 ||X - Y||^2 (+ const)``, ``Y = U diag(s) V^*`` and
  ``X_0 = U diag(a_0) V^*`` realised by balanced weights, X stays ``U diag(a(t)) V^*`` and each mode
  obeys the scalar learning flow ``da/dt = f(a) = -N a^{2(N-1)/N} (a - s) - lam N a``.
  Closed forms: N = 1, ``a = s' + (a_0 - s') e^{-(1+lam) t}`` with ``s' = s/(1+lam)``; N = 2, the
  logistic ``a = c / (1 + (c/a_0 - 1) e^{-2ct})`` with ``c = s - lam`` (``a_0 / (1 + 2 a_0 t)`` if c = 0).
  For N >= 3, ``t = int_{a_0}^{a(t)} db / f(b)`` evaluated by adaptive quadrature and inverted by
  bracketing: exact up to the quadrature tolerance, with no time stepping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize

from ..core.options import check_options
from ..core.validation import as_depth, as_widths
from ..core.weights import as_rng, haar_orthonormal
from .losses import LinearRegression
from .options import NOISE, SAMPLES, TIME, check_lam

__all__ = [
    "AlignedRegression",
    "aligned_mode",
    "aligned_regression",
    "regularized_moment_map",
]


def regularized_moment_map(mu0, lam: float, t: float) -> tuple[np.ndarray, ...]:
    """``mu(t) = exp(-2 lam t) mu(0)`` (docs/math section 4, [derived])."""
    lam, t = check_options(lam=lam, t=(t, TIME))
    return tuple(np.exp(-2.0 * lam * t) * np.array(m) for m in mu0)


def _mode_velocity(a: float, s: float, depth: int, lam: float) -> float:
    return -depth * a ** (2.0 * (depth - 1) / depth) * (a - s) - lam * depth * a


def _rest_point(a0: float, s: float, depth: int, lam: float) -> float:
    """The rest point ``a*`` that the mode starting at ``a0 > 0`` approaches (f(a*) = 0, or 0)."""
    direction = np.sign(_mode_velocity(a0, s, depth, lam))
    if direction == 0:
        return a0
    # g(b) = f(b)/(N b) = -b^{1-2/N} (b - s) - lam has the sign of f on b > 0
    def g(b):
        return _mode_velocity(b, s, depth, lam) / (depth * b)

    if direction > 0:  # moving up: the next root of g above a0 (below s, where g < 0)
        return scipy.optimize.brentq(g, a0, s, xtol=1e-16, rtol=4 * np.finfo(float).eps)
    grid = np.linspace(a0, 0.0, 2049)[1:-1]  # moving down: the first sign change of g below a0
    change = np.nonzero(g(grid) >= 0)[0]
    if change.size == 0:
        return 0.0
    k = change[0]
    upper = a0 if k == 0 else grid[k - 1]
    return scipy.optimize.brentq(g, grid[k], upper, xtol=1e-16, rtol=4 * np.finfo(float).eps)


def _mode_by_quadrature(a0: float, s: float, depth: int, lam: float, t: float) -> float:
    """Invert ``t = int_{a0}^{a} db / f(b)`` in the variable ``u = log((a* - a0) / (a* - a))``.

    With ``b(u) = a* - (a* - a0) e^{-u}``, ``db = (a* - b) du`` and the integrand ``(a* - b)/f(b)``
    stays bounded up to the rest point a* (where ``1/(a* - b)`` would make the plain integral singular).
    """
    target = _rest_point(a0, s, depth, lam)
    if t == 0.0 or target == a0:
        return a0
    if 0.0 < 4.0 * a0 < target:
        # a small start growing: up to halfway, in w = log b (smooth integrand b/f(b) ~ b^{1-p}/(N s), and
        # b = e^w keeps the relative accuracy of a tiny b, which b = a* - gap e^{-u} loses to cancellation)
        return _grow_from_small_start(a0, s, depth, lam, t, target)
    gap = target - a0

    def point(u):
        return target - gap * np.exp(-u)

    # From a small start the integrand ~ 1/(N s b^p) peaks over v in [0, ~a0/|gap|] (b ~ a0 + gap v):
    # geometric break points from there on let the quadrature see the peak (without them, a0 <= 1e-5
    # at N >= 3 returned a* long before the mode got there)
    base = abs(a0 / gap)

    def elapsed(u):
        points = [base * 4.0**k for k in range(80) if base * 4.0**k < u]
        value, _ = scipy.integrate.quad(lambda v: gap * np.exp(-v) / _mode_velocity(point(v), s, depth, lam), 0.0, u,
                                        epsabs=1e-14, epsrel=1e-11, limit=200 + 4 * len(points),
                                        points=points or None)
        return value

    # Near a* > 0, f(b) loses digits to cancellation; stop the quadrature 1e-5 (relative) short
    # of it and follow the quadratic model d(delta)/dt = c delta - k delta^2 (c = f'(a*), k = f''(a*)/2,
    # delta = a* - a) in closed form: 1/delta = k/c + (1/delta_0 - k/c) e^{-c tau}, error O(delta^3).
    # Decaying to a* = 0 there is no cancellation: integrate to 1e-14 and follow the linear model.
    short = 1e-14 if target == 0.0 else 1e-5
    u_end = float(np.log(abs(gap) / (short * max(abs(target), abs(a0)))))
    if u_end <= 0.0:
        return target
    t_end = elapsed(u_end)
    if t < t_end:
        u = scipy.optimize.brentq(lambda v: elapsed(v) - t, 0.0, u_end, xtol=1e-14, rtol=4 * np.finfo(float).eps)
        return point(u)
    delta0 = gap * np.exp(-u_end)
    c = _mode_derivative(target, s, depth, lam, 1)
    k = 0.0 if target == 0.0 else 0.5 * _mode_derivative(target, s, depth, lam, 2)
    with np.errstate(over="ignore"):  # long after t_end: z = inf, a = a* exactly
        z = k / c + (1.0 / delta0 - k / c) * np.exp(-c * (t - t_end))
    return target - 1.0 / z


def _grow_from_small_start(a0: float, s: float, depth: int, lam: float, t: float, target: float) -> float:
    """``a(t)`` for ``a0 < a*/4``: invert ``t = int_{log a0}^{log a} b / f(b) dw`` (``b = e^w``) up to the
    halfway point ``m = (a0 + a*)/2``, then continue from m with :func:`_mode_by_quadrature`."""
    w0, w_mid = np.log(a0), np.log(0.5 * (a0 + target))

    def elapsed(w):
        value, _ = scipy.integrate.quad(lambda v: np.exp(v) / _mode_velocity(np.exp(v), s, depth, lam), w0, w,
                                        epsabs=0.0, epsrel=1e-12, limit=200)
        return value

    t_mid = elapsed(w_mid)
    if t >= t_mid:
        return _mode_by_quadrature(float(np.exp(w_mid)), s, depth, lam, t - t_mid)
    w = scipy.optimize.brentq(lambda v: elapsed(v) - t, w0, w_mid, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return float(np.exp(w))


def _mode_derivative(a: float, s: float, depth: int, lam: float, order: int) -> float:
    """``f'(a)`` or ``f''(a)`` for ``f(a) = -N a^p (a - s) - lam N a``, ``p = 2 - 2/N``."""
    p = 2.0 - 2.0 / depth
    if order == 1:
        return -depth * (p * a ** (p - 1.0) * (a - s) + a**p) - lam * depth
    return -depth * (p * (p - 1.0) * a ** (p - 2.0) * (a - s) + 2.0 * p * a ** (p - 1.0))


def _mode_closed_form(a0: float, s: float, depth: int, lam: float, t: float) -> float:
    if depth == 1:
        rest = s / (1.0 + lam)
        return rest + (a0 - rest) * np.exp(-(1.0 + lam) * t)
    c = s - lam
    if c == 0.0:
        return a0 / (1.0 + 2.0 * a0 * t)
    return c / (1.0 + (c / a0 - 1.0) * np.exp(-2.0 * c * t))


def aligned_mode(s: float, a0: float, depth: int, t, lam: float = 0.0) -> np.ndarray:
    """Singular value ``a(t)`` of one aligned mode of the balanced learning flow (see module docstring).

    Parameters
    ----------
    s : float
        Target singular value (``>= 0``).
    a0 : float
        Initial singular value (``> 0``; a zero mode stays zero).
    depth : int
        N.
    t : float or array
        Times (``>= 0``).
    lam : float
        Weight of the regularizer.
    """
    depth = as_depth(depth)
    lam = check_lam(lam)
    s, a0 = float(s), float(a0)
    if not (np.isfinite(s) and s >= 0):
        raise ValueError(f"s must be a finite non-negative singular value, got {s}")
    if not (np.isfinite(a0) and a0 >= 0):
        raise ValueError(f"a0 must be a finite non-negative singular value, got {a0}")
    times = np.asarray(t, dtype=float)
    if np.any(times < 0) or not np.all(np.isfinite(times)):
        raise ValueError("times must be finite and non-negative")
    if a0 == 0.0:
        return np.zeros_like(times)
    solve = _mode_closed_form if depth <= 2 else _mode_by_quadrature
    return np.vectorize(lambda tk: solve(a0, s, depth, lam, float(tk)))(times)


@dataclass(frozen=True)
class AlignedRegression:
    """A whitened regression problem with a balanced, aligned initialisation.

    ``E(X) = 1/(2n) ||X A - B||^2 = 1/2 ||X - Y||^2 + const`` (``A A^T = n I``), ``Y = U diag(s) V^T``,
    ``W_0`` balanced with ``phi(W_0) = U diag(a0) V^T``.
    """

    weights: tuple[np.ndarray, ...]
    loss: LinearRegression
    U: np.ndarray
    s: np.ndarray
    V: np.ndarray
    a0: np.ndarray
    lam: float

    def solution(self, t) -> np.ndarray:
        """``X(t) = U diag(a(t)) V^T`` for each time (shape ``(len(t), d_N, d_0)``)."""
        times = np.atleast_1d(np.asarray(t, dtype=float))
        depth = len(self.weights)
        modes = np.stack([aligned_mode(sk, ak, depth, times, self.lam) for sk, ak in zip(self.s, self.a0, strict=True)])
        return np.einsum("ik,kt,jk->tij", self.U, modes, self.V)


def aligned_regression(widths, s, a0, rng=None, *, lam: float = 0.0, samples: int | None = None,
                       noise: float = 0.1) -> AlignedRegression:
    """Build a whitened regression with target modes ``s`` and a balanced start with modes ``a0``.

    Inputs ``A = sqrt(n) Q^T`` (``Q`` orthonormal ``n x d_0``, so ``A A^T = n I``), targets
    ``B = Y A + noise * Z`` with ``Z A^T = 0`` (label noise orthogonal to the inputs, which only adds a
    constant to E). Layers ``W_i = Q_i diag(a0^{1/N}) Q_{i-1}^T`` with ``Q_0 = V``, ``Q_N = U`` and
    random orthonormal ``Q_i``: balanced (``W_i W_i^T = W_{i+1}^T W_{i+1}``) with ``phi(W) = U diag(a0) V^T``.
    ``samples`` (n) must be at least ``d_0`` (whitened inputs); the default is ``d_0 + 4``.
    """
    widths = as_widths(widths)
    lam, samples, noise = check_options(lam=lam, samples=(samples, SAMPLES), noise=(noise, NOISE))
    depth = len(widths) - 1
    s = np.asarray(s, dtype=float).ravel()
    a0 = np.asarray(a0, dtype=float).ravel()
    r = s.size
    if a0.size != r:
        raise ValueError(f"s has {r} modes but a0 has {a0.size}")
    if r > min(widths):
        raise ValueError(f"{r} modes do not fit through widths {widths} (at most {min(widths)})")
    if np.any(s < 0) or np.any(a0 < 0) or not (np.all(np.isfinite(s)) and np.all(np.isfinite(a0))):
        raise ValueError("mode values s and a0 must be finite and non-negative")
    if samples is not None and samples < widths[0]:
        raise ValueError(f"samples = {samples} is below d_0 = {widths[0]}: the inputs cannot be whitened")
    rng = as_rng(rng)
    n = widths[0] + 4 if samples is None else samples
    frames = [haar_orthonormal(d, r, rng) for d in widths]
    V, U = frames[0], frames[-1]
    root = a0 ** (1.0 / depth)
    weights = tuple(frames[i] @ np.diag(root) @ frames[i - 1].T for i in range(1, depth + 1))
    Q = haar_orthonormal(n, n, rng)
    A = np.sqrt(n) * Q[:, : widths[0]].T
    Z = rng.standard_normal((widths[-1], n - widths[0])) @ Q[:, widths[0]:].T
    Y = U @ np.diag(s) @ V.T
    loss = LinearRegression(A, Y @ A + noise * Z)
    return AlignedRegression(weights, loss, U, s, V, a0, lam)
