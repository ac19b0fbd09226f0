"""Inviscid Burgers shocks of the local entropy: predicted time, characteristics, detection (docs/math section 6.3).

As ``nu -> 0`` the local entropy tends to the Hopf–Lax solution ``u_0(x,t) = min_y f_x(y)``,
``f_x(y) = Lbar(y) + |x - y|^2 / (2t)``, and ``p = grad u_0 = (x - y*(x,t)) / t`` solves inviscid
Burgers ``p_t + (p.grad) p = 0`` away from shocks. Three views of the first shock:

* **Prediction** (:func:`predicted_shock_time`). ``f_x`` is strictly convex for every x while
  ``I + t Hess Lbar > 0``, so the minimiser is unique and smooth until
  ``t* = 1 / max(0, -inf_y lambda_min(Hess Lbar(y)))`` (``inf`` for convex losses). The Hessian
  is the user's (``hessian=``) or second finite differences of ``Lbar`` on the grid.
* **Characteristics** (:func:`characteristics`, :func:`first_crossing_time`). ``x = y + t grad
  Lbar(y)`` carries ``p = grad Lbar(y)``; the map ``y -> x`` stays injective until t*. On a grid
  (1-D) the first crossing of neighbouring characteristics is exact:
  ``t_c = min_k (y_{k+1} - y_k) / (Lbar'(y_k) - Lbar'(y_{k+1}))`` over decreasing pairs (before any
  crossing the order is kept, so the first crossing is between neighbours). In 2-D: the first t
  at which ``det(I + t J)`` vanishes on a grid cell, J the cell's finite-difference Jacobian.
* **Detection** (:func:`shocks_1d`, :func:`first_shock_time`), from the Hopf–Lax minimiser alone.
  On grid nodes ``y_k``, ``argmin_k f_x(y_k) = argmin_k [g_k - (x/t) y_k]`` with
  ``g_k = Lbar(y_k) + y_k^2 / (2t)``: the minimiser, as x sweeps R, visits exactly the vertices of
  the lower convex hull of the points ``(y_k, g_k)`` in order, switching from vertex a to the next
  vertex b at ``x = t (g_b - g_a) / (y_b - y_a)``. The argmin map is thus computed for every x at
  once, and it *jumps* (a shock) wherever the hull skips nodes. At such a shock ``x_s`` the
  left/right states are ``p_l = (x_s - y_a)/t > p_r = (x_s - y_b)/t`` (the Lax entropy condition
  holds since ``y_a < y_b``), the jump is ``p_r - p_l`` and the Rankine–Hugoniot speed of Burgers'
  flux ``p^2/2`` is ``(p_l + p_r)/2``.

Near-collinear hull points are kept (a node is skipped only if it lies above the chord by more than
64 eps of the cross product), so rounding never fakes a shock; the grid version of t* differs
from the continuum one by O(h^2 Lbar'''') (second differences vs Lbar'').

References: Evans, *PDE*, sections 3.3-3.4 (Hopf–Lax, characteristics, Rankine–Hugoniot, Lax
condition); Chaudhari et al., "Deep Relaxation" (2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .local_entropy import TIME_RULE, QuadratureGrid, as_points, loss_on, quadrature_grid

__all__ = [
    "FirstShock",
    "ShockTimePrediction",
    "Shocks",
    "characteristics",
    "first_crossing_time",
    "first_shock_time",
    "hessian_min_eigenvalue",
    "predicted_shock_time",
    "shocks_1d",
]


def _fd_hessian(Lbar, grid: QuadratureGrid) -> np.ndarray:
    """Hessian of Lbar at the interior nodes by second divided differences, shape (d, d, *interior)."""
    L = loss_on(Lbar, grid.mesh())
    if grid.dim == 1:
        y = grid.axes[0]
        d1 = np.diff(L) / np.diff(y)
        return (2 * np.diff(d1) / (y[2:] - y[:-2]))[None, None]
    a, b = grid.axes
    da, db = np.diff(a), np.diff(b)
    Laa = 2 * np.diff(np.diff(L, axis=0) / da[:, None], axis=0) / (a[2:] - a[:-2])[:, None]
    Lbb = 2 * np.diff(np.diff(L, axis=1) / db[None, :], axis=1) / (b[2:] - b[:-2])[None, :]
    Lab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / np.outer(a[2:] - a[:-2], b[2:] - b[:-2])
    return np.array([[Laa[:, 1:-1], Lab], [Lab, Lbb[1:-1, :]]])


def hessian_min_eigenvalue(Lbar=None, grid=None, *, hessian=None, domain=None, n=None):
    """Smallest Hessian eigenvalue on the grid: ``(lambda_min array, node coordinates, method)``.

    With ``hessian`` (callable: ``H(y)`` in 1-D, ``H(y1, y2)`` -> nested ``[[H11, H12], [H21, H22]]``
    in 2-D) it is evaluated at every node; otherwise second finite differences of ``Lbar`` are used
    at the interior nodes.
    """
    grid = quadrature_grid(grid, domain=domain, n=n)
    mesh = grid.mesh()
    if hessian is not None:
        if not callable(hessian):
            raise TypeError(f"hessian must be callable, got {type(hessian).__name__}")
        H = np.asarray(hessian(*mesh), dtype=float)
        H = np.broadcast_to(H, grid.shape).reshape((1, 1, *grid.shape)) if grid.dim == 1 else H
        method, where = "given Hessian", mesh
    else:
        if Lbar is None:
            raise ValueError("give Lbar (finite differences) or hessian")
        H = _fd_hessian(Lbar, grid)
        method = "second finite differences on the grid"
        where = tuple(c[(slice(1, -1),) * grid.dim] for c in mesh)
    if H.shape[:2] != (grid.dim, grid.dim) or not np.all(np.isfinite(H)):
        raise ValueError(f"the Hessian must be finite with shape ({grid.dim}, {grid.dim}, ...), got {H.shape}")
    if grid.dim == 1:
        lam = H[0, 0]
    else:
        h11, h12, h22 = H[0, 0], (H[0, 1] + H[1, 0]) / 2, H[1, 1]
        lam = (h11 + h22) / 2 - np.hypot((h11 - h22) / 2, h12)
    return np.array(lam), where, method


@dataclass(frozen=True)
class ShockTimePrediction:
    """``t_star = 1 / max(0, -lambda_min)`` (``inf`` when ``lambda_min >= 0``), attained at ``location``."""

    t_star: float
    lambda_min: float
    location: np.ndarray
    method: str


def predicted_shock_time(Lbar=None, grid=None, *, hessian=None, domain=None, n=None) -> ShockTimePrediction:
    """The predicted first shock time ``t* = 1 / max(0, -inf_y lambda_min(Hess Lbar(y)))`` over the grid."""
    lam, where, method = hessian_min_eigenvalue(Lbar, grid, hessian=hessian, domain=domain, n=n)
    k = np.unravel_index(int(np.argmin(lam)), lam.shape)
    lmin = float(lam[k])
    t_star = np.inf if lmin >= 0 else 1.0 / -lmin
    return ShockTimePrediction(t_star, lmin, np.array([c[k] for c in where]), method)


def _gradient_on(grad_Lbar, coords) -> np.ndarray:
    """``grad_Lbar(*coords)`` validated: finite, shape of the coordinates (1-D) or (2, *shape) (2-D)."""
    if not callable(grad_Lbar):
        raise TypeError(f"grad_Lbar must be a vectorised callable, got {type(grad_Lbar).__name__}")
    shape = coords[0].shape if len(coords) == 1 else (2, *coords[0].shape)
    g = np.asarray(grad_Lbar(*coords), dtype=float)
    try:
        g = np.broadcast_to(g, shape).copy()
    except ValueError:
        raise ValueError(f"grad_Lbar returned shape {g.shape}, expected {shape}") from None
    if not np.all(np.isfinite(g)):
        raise ValueError("grad_Lbar returned non-finite values")
    return g


def characteristics(grad_Lbar, y, t):
    """``x = y + t grad Lbar(y)``: 1-D ``y`` -> array; 2-D ``y = (y1, y2)`` -> array with leading axis 2."""
    (t,) = check_options(t=(t, TIME_RULE))
    coords = as_points(y, 2 if isinstance(y, (tuple, list)) and len(y) == 2 else 1, "y")
    g = _gradient_on(grad_Lbar, coords)
    return (coords[0] if len(coords) == 1 else np.stack(coords)) + t * g


def first_crossing_time(grad_Lbar, grid=None, *, domain=None, n=None):
    """First time characteristics from the grid nodes cross: ``(time, location)`` (``inf`` if never).

    1-D: exact for the node characteristics (first collision of neighbours). 2-D: first t with
    ``det(I + t J) = 0`` on a cell, J the forward-difference Jacobian of ``grad Lbar`` on the cell.
    """
    grid = quadrature_grid(grid, domain=domain, n=n)
    mesh = grid.mesh()
    if grid.dim == 1:
        y = grid.axes[0]
        g = _gradient_on(grad_Lbar, (y,))
        dec = -np.diff(g)
        with np.errstate(divide="ignore"):
            tc = np.where(dec > 0, np.diff(y) / np.where(dec > 0, dec, 1.0), np.inf)
        k = int(np.argmin(tc))
        return float(tc[k]), np.array([(y[k] + y[k + 1]) / 2])
    g = _gradient_on(grad_Lbar, mesh)  # (2, n1, n2)
    a, b = grid.axes
    J11 = (np.diff(g[0], axis=0) / np.diff(a)[:, None])[:, :-1]
    J21 = (np.diff(g[1], axis=0) / np.diff(a)[:, None])[:, :-1]
    J12 = (np.diff(g[0], axis=1) / np.diff(b)[None, :])[:-1, :]
    J22 = (np.diff(g[1], axis=1) / np.diff(b)[None, :])[:-1, :]
    tr, det = J11 + J22, J11 * J22 - J12 * J21
    # smallest positive root of 1 + tr t + det t^2
    times = np.full(tr.shape, np.inf)
    lin = np.abs(det) <= 1e-14 * (tr**2 + 1)
    times[lin & (tr < 0)] = -1 / tr[lin & (tr < 0)]
    disc = tr**2 - 4 * det
    q = ~lin & (disc >= 0)
    sq = np.sqrt(np.where(q, disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = np.stack([(-tr - sq) / (2 * det), (-tr + sq) / (2 * det)])
    roots = np.where((roots > 0) & q[None], roots, np.inf)
    times = np.minimum(times, roots.min(axis=0))
    k = np.unravel_index(int(np.argmin(times)), times.shape)
    return float(times[k]), np.array([(a[k[0]] + a[k[0] + 1]) / 2, (b[k[1]] + b[k[1] + 1]) / 2])


def _lower_hull(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull of (y_k, g_k), y increasing (monotone chain; near-collinear
    points within 64 eps of the cross product are kept)."""
    eps64 = 64 * np.finfo(float).eps
    hull: list[int] = []
    for k in range(y.size):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            d1y, d1g, d2y, d2g = y[a] - y[o], g[a] - g[o], y[k] - y[o], g[k] - g[o]
            cross = d1y * d2g - d1g * d2y  # > 0: a below the chord o-k (convex turn)
            if cross < -eps64 * (abs(d1y * d2g) + abs(d1g * d2y)):
                hull.pop()
            else:
                break
        hull.append(k)
    return np.array(hull)


@dataclass(frozen=True)
class Shocks:
    """The shocks of the grid Hopf–Lax solution at time t (arrays, one entry per shock, left to right).

    ``position`` x_s, ``y_left``/``y_right`` the minimisers either side, ``p_left``/``p_right`` the
    states, ``jump = p_right - p_left``, ``speed = (p_left + p_right)/2`` (Rankine–Hugoniot),
    ``lax`` whether ``p_left > p_right``, ``skipped`` the number of grid nodes jumped over.
    """

    t: float
    position: np.ndarray
    y_left: np.ndarray
    y_right: np.ndarray
    p_left: np.ndarray
    p_right: np.ndarray
    jump: np.ndarray
    speed: np.ndarray
    lax: np.ndarray
    skipped: np.ndarray

    @property
    def count(self) -> int:
        return int(self.position.size)


def shocks_1d(Lbar, t, grid=None, *, domain=None, n=None, min_skip: int = 1) -> Shocks:
    """Shocks of the inviscid ``p`` at time ``t > 0``: jumps of the grid Hopf–Lax minimiser over at
    least ``min_skip`` nodes (see the module docstring), with states, jump, Lax condition and speed."""
    t, min_skip = check_options(t=(t, Rule.positive("the time t, > 0")),
                                min_skip=(min_skip, Rule.count(1, "nodes a jump must skip")))
    grid = quadrature_grid(grid, domain=domain, n=n)
    if grid.dim != 1:
        raise ValueError(f"shocks_1d needs a 1-D grid, got dimension {grid.dim}")
    y = grid.axes[0]
    g = loss_on(Lbar, (y,)) + y**2 / (2 * t)
    slopes = np.diff(g) / np.diff(y)
    if np.all(np.diff(slopes) >= 0):  # discretely convex: every node is a hull vertex, no jump
        hull = np.arange(y.size)
    else:
        hull = _lower_hull(y, g)
    skip = np.diff(hull) - 1
    sel = np.nonzero(skip >= min_skip)[0]
    a, b = hull[sel], hull[sel + 1]
    xs = t * (g[b] - g[a]) / (y[b] - y[a])
    yl, yr = _vertex(y, g, a, xs / t), _vertex(y, g, b, xs / t)
    pl, pr = (xs - yl) / t, (xs - yr) / t
    return Shocks(t, xs, yl, yr, pl, pr, pr - pl, (pl + pr) / 2, pl > pr, skip[sel])


def _vertex(y, g, k, slope):
    """Minimiser of ``g(y) - slope y`` refined from node k by the parabola through nodes k-1, k, k+1
    (O(h^2) instead of the node's O(h); the node itself at the ends of the grid)."""
    out = y[k].astype(float).copy()
    inner = (k > 0) & (k < y.size - 1)
    kk = k[inner]
    f = [g[kk + o] - slope[inner] * y[kk + o] for o in (-1, 0, 1)]
    hm, hp = y[kk] - y[kk - 1], y[kk + 1] - y[kk]
    a = ((f[2] - f[1]) / hp + (f[0] - f[1]) / hm) / (hp + hm)
    bb = ((f[2] - f[1]) * hm / hp - (f[0] - f[1]) * hp / hm) / (hp + hm)
    ok = a > 0
    delta = np.where(ok, -bb / np.where(ok, 2 * a, 1.0), 0.0)
    out[inner] = y[kk] + np.clip(delta, -hm, hp)
    return out


@dataclass(frozen=True)
class FirstShock:
    """First time of a time grid at which :func:`shocks_1d` finds a shock (``inf`` if none).

    ``detected[i]`` says whether ``times[i]`` has a shock; ``shocks`` are those at ``time``
    (``None`` when no shock).
    """

    time: float
    index: int
    times: np.ndarray
    detected: np.ndarray
    shocks: Shocks | None
    message: str


def first_shock_time(Lbar, times, grid=None, *, domain=None, n=None, min_skip: int = 1,
                     stop_at_first: bool = False) -> FirstShock:
    """Scan an increasing time grid for the first shock of the inviscid Burgers solution (1-D).

    With ``stop_at_first`` the scan ends at the first shock (later entries of ``detected`` stay False).
    """
    (stop_at_first,) = check_options(stop_at_first=(stop_at_first, Rule.flag("stop at the first shock")))
    times = np.array(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(times <= 0):
        raise ValueError(f"times must be a non-empty 1-D array of finite times > 0, got {times!r}")
    if np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing")
    grid = quadrature_grid(grid, domain=domain, n=n)
    detected = np.zeros(times.size, dtype=bool)
    first, index, shocks = np.inf, -1, None
    for i, t in enumerate(times):
        s = shocks_1d(Lbar, float(t), grid, min_skip=min_skip)
        detected[i] = s.count > 0
        if detected[i] and shocks is None:
            first, index, shocks = float(t), i, s
            if stop_at_first:
                break
    if shocks is None:
        msg = f"no shock up to t = {times[-1]:g}"
    else:
        msg = f"first shock at t = {first:g} at x = {shocks.position[0]:.4g} (jump {shocks.jump[0]:.3g})"
    return FirstShock(first, index, times.copy(), detected, shocks, msg)
