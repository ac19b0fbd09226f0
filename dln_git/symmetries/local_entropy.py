"""Local entropy by Cole–Hopf, its gradient, and the inviscid (Hopf–Lax) limit (docs/math section 6.3).

For a loss ``Lbar`` on ``R^d`` (d = 1 or 2 here) the local entropy is::

    u(x, t) = -2 nu log int p_{nu t}(x, y) exp(-Lbar(y) / (2 nu)) dy,
    p_{nu t}(x, y) = (4 pi nu t)^{-d/2} exp(-|x - y|^2 / (4 nu t)),

the heat kernel of ``d/ds = Lap`` at time ``s = nu t`` (variance ``2 nu t`` per coordinate). It
solves the viscous Hamilton–Jacobi equation ``u_t + 1/2 |grad u|^2 = nu Lap u`` with ``u(., 0) =
Lbar`` (Cole–Hopf), and ``p = grad u`` solves viscous Burgers ``p_t + (p.grad) p = nu Lap p``
(Chaudhari et al., "Deep Relaxation", 2018; Evans, *PDE*, section 4.4.1).

Computation. The integrand is ``exp(-f_x(y) / (2 nu))`` with ``f_x(y) = Lbar(y) + |x - y|^2 / (2t)``;
its exponent is of size ``1/nu`` and is never exponentiated unscaled: the integral is a
log-sum-exp of ``log w_k - f_x(y_k) / (2 nu)`` over the nodes ``y_k`` of a tensor trapezoid grid
with log-weights ``log w_k``. Differentiating under the integral::

    grad u(x, t) = (x - <y>_x) / t,    <y>_x = int y exp(-f_x(y)/(2 nu)) dy / int exp(-f_x(y)/(2 nu)) dy,

the mean of the Gibbs (posterior) measure, computed with the same normalised weights; no finite
differences. The trapezoid rule is spectrally accurate for this smooth, rapidly decaying
integrand once the grid step is a fraction of the kernel width ``sqrt(2 nu t)`` and the Gibbs mass
at the domain's edge is negligible; both are reported (``resolution``, ``edge_mass``) and decide
``converged``.

As ``nu -> 0`` (Laplace's method) ``u`` tends to the Hopf–Lax solution
``u_0(x, t) = min_y f_x(y)`` with ``u - u_0 = nu log det(I + t Hess Lbar(y*)) + O(nu^2)`` where the
minimiser ``y*`` is unique and non-degenerate (Evans, section 3.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..core.options import Rule, check_options

__all__ = ["HopfLax", "LocalEntropy", "QuadratureGrid", "hopf_lax", "local_entropy", "quadrature_grid"]

NU_RULE = Rule.positive("the viscosity nu, > 0")
TIME_RULE = Rule.nonnegative("the time t, >= 0")
#: Largest accepted grid step over the kernel width sqrt(2 nu t) for ``converged``: the trapezoid
#: error of a Gaussian of width s on step h is ~exp(-2 pi^2 s^2 / h^2) = 3e-9 at h/s = 0.75.
MAX_RESOLUTION = 0.75
#: Largest accepted Gibbs mass on the boundary nodes (the domain must hold the measure).
MAX_EDGE_MASS = 1e-10
_CHUNK = 2_000_000  # entries of one (points x nodes) block


@dataclass(frozen=True)
class QuadratureGrid:
    """A tensor grid of quadrature nodes with trapezoid weights (``axes``: one increasing 1-D array per
    coordinate)."""

    axes: tuple

    @property
    def dim(self) -> int:
        return len(self.axes)

    @property
    def shape(self) -> tuple:
        return tuple(a.size for a in self.axes)

    @property
    def step(self) -> float:
        """Largest spacing between neighbouring nodes."""
        return float(max(np.max(np.diff(a)) for a in self.axes))

    def mesh(self) -> tuple:
        """The node coordinates as arrays of shape :attr:`shape` (``indexing="ij"``)."""
        return tuple(np.meshgrid(*self.axes, indexing="ij"))

    def log_weights(self) -> np.ndarray:
        """Log of the tensor trapezoid weights, shape :attr:`shape`."""
        logs = []
        for a in self.axes:
            w = np.empty_like(a)
            w[1:-1] = (a[2:] - a[:-2]) / 2
            w[0], w[-1] = (a[1] - a[0]) / 2, (a[-1] - a[-2]) / 2
            logs.append(np.log(w))
        return logs[0] if self.dim == 1 else logs[0][:, None] + logs[1][None, :]

    def boundary(self) -> np.ndarray:
        """Boolean mask of the nodes on the boundary of the box."""
        mask = np.zeros(self.shape, dtype=bool)
        for k in range(self.dim):
            idx = [slice(None)] * self.dim
            for end in (0, -1):
                idx[k] = end
                mask[tuple(idx)] = True
        return mask


def _axis(a, name: str) -> np.ndarray:
    try:
        a = np.array(a, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of reals, got {type(a).__name__}") from None
    if a.ndim != 1 or a.size < 3:
        raise ValueError(f"{name} must be a 1-D array of at least 3 nodes, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    if not np.all(np.diff(a) > 0):
        raise ValueError(f"{name} must be strictly increasing")
    return a


def quadrature_grid(nodes=None, *, domain=None, n=None) -> QuadratureGrid:
    """A quadrature grid from explicit nodes or from a box and a node count.

    Parameters
    ----------
    nodes : array or tuple of two arrays or QuadratureGrid, optional
        One increasing 1-D array (d = 1) or a pair of them (d = 2, tensor grid).
    domain : (a, b) or ((a1, b1), (a2, b2)), optional
        The box, with ``n`` (int, or one int per axis, each >= 3) equispaced nodes per axis.
    """
    if isinstance(nodes, QuadratureGrid):
        return nodes
    if (nodes is None) == (domain is None):
        raise ValueError("give exactly one of nodes or domain (with n)")
    if nodes is not None:
        if isinstance(nodes, (tuple, list)) and len(nodes) == 2 and np.ndim(nodes[0]) == 1:
            return QuadratureGrid((_axis(nodes[0], "nodes[0]"), _axis(nodes[1], "nodes[1]")))
        return QuadratureGrid((_axis(nodes, "nodes"),))
    box = np.asarray(domain, dtype=float)
    if box.shape == (2,):
        box = box[None, :]
    if box.ndim != 2 or box.shape[1] != 2 or box.shape[0] not in (1, 2):
        raise ValueError(f"domain must be (a, b) or ((a1, b1), (a2, b2)), got shape {box.shape}")
    if not np.all(np.isfinite(box)) or not np.all(box[:, 1] > box[:, 0]):
        raise ValueError(f"domain must be finite with a < b on each axis, got {box.tolist()}")
    counts = n if isinstance(n, (tuple, list)) else (n,) * box.shape[0]
    if len(counts) != box.shape[0]:
        raise ValueError(f"n must give one count per axis ({box.shape[0]}), got {n!r}")
    counts = [check_options(n=(c, Rule.count(3, "nodes per axis, >= 3")))[0] for c in counts]
    return QuadratureGrid(tuple(np.linspace(lo, hi, c) for (lo, hi), c in zip(box, counts, strict=True)))


def loss_on(Lbar, coords, name: str = "Lbar") -> np.ndarray:
    """``Lbar(*coords)`` as a finite float array of the coordinates' shape (validated)."""
    if not callable(Lbar):
        raise TypeError(f"{name} must be a vectorised callable, got {type(Lbar).__name__}")
    vals = np.asarray(Lbar(*coords), dtype=float)
    try:
        vals = np.broadcast_to(vals, coords[0].shape).copy()
    except ValueError:
        raise ValueError(f"{name} returned shape {vals.shape}, expected {coords[0].shape}") from None
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} returned non-finite values on the grid")
    return vals


def as_points(x, dim: int, name: str = "x") -> tuple:
    """Evaluation points as ``dim`` float arrays of one common shape (``x`` itself in 1-D, a pair
    ``(x1, x2)`` or an array with leading axis 2 in 2-D)."""
    if dim == 1:
        coords = (np.array(x, dtype=float),)
    else:
        if isinstance(x, (tuple, list)) and len(x) == 2:
            parts = [np.asarray(c, dtype=float) for c in x]
        else:
            arr = np.asarray(x, dtype=float)
            if arr.ndim < 1 or arr.shape[0] != 2:
                raise ValueError(f"{name} must be a pair (x1, x2) or have leading axis 2, got shape {arr.shape}")
            parts = list(arr)
        try:
            coords = tuple(np.array(c) for c in np.broadcast_arrays(*parts))
        except ValueError:
            raise ValueError(f"{name}: the two coordinates do not broadcast together") from None
    if not all(np.all(np.isfinite(c)) for c in coords):
        raise ValueError(f"{name} must be finite")
    return coords


@dataclass(frozen=True)
class LocalEntropy:
    """Cole–Hopf local entropy at points x and time t.

    ``u`` has the points' shape; ``p = grad u`` and ``mean = <y>_x`` (the Gibbs mean) have it in
    1-D and a leading axis of length 2 in 2-D. ``resolution`` is the grid step over the kernel width
    ``sqrt(2 nu t)``; ``edge_mass`` the largest Gibbs mass on the boundary nodes over the points.
    """

    u: np.ndarray
    p: np.ndarray
    mean: np.ndarray
    t: float
    nu: float
    resolution: float
    edge_mass: float
    converged: bool
    message: str


def _gibbs(grid: QuadratureGrid, loss: np.ndarray, coords: tuple, t: float, nu: float):
    """log of the unnormalised heat-kernel integral, the Gibbs mean and the edge mass, in chunks."""
    nodes = [c.ravel() for c in grid.mesh()]
    base = grid.log_weights().ravel() - loss.ravel() / (2 * nu)
    edge = grid.boundary().ravel()
    pts = [c.ravel() for c in coords]
    m = pts[0].size
    logz, mean, edge_mass = np.empty(m), np.empty((grid.dim, m)), 0.0
    step = max(1, _CHUNK // base.size)
    for s in range(0, m, step):
        sl = slice(s, min(m, s + step))
        sq = sum((p[sl, None] - y[None, :]) ** 2 for p, y in zip(pts, nodes, strict=True))
        expo = base[None, :] - sq / (4 * nu * t)
        lz = logsumexp(expo, axis=1)
        w = np.exp(expo - lz[:, None])  # normalised Gibbs weights, each <= 1
        logz[sl] = lz
        for k, y in enumerate(nodes):
            mean[k, sl] = w @ y
        if edge.any():
            edge_mass = max(edge_mass, float(np.max(w[:, edge].sum(axis=1))))
    return logz, mean, edge_mass


def local_entropy(Lbar, x, t, nu, grid=None, *, domain=None, n=None, grad_Lbar=None) -> LocalEntropy:
    """The local entropy ``u(x, t)`` and its gradient ``p = (x - <y>_x) / t`` by Cole–Hopf quadrature.

    Parameters
    ----------
    Lbar : callable
        Vectorised loss: ``Lbar(y)`` in 1-D, ``Lbar(y1, y2)`` in 2-D, returning finite values.
    x : array or pair of arrays
        Evaluation points (see :func:`as_points`).
    t : float, >= 0
        Time; ``t = 0`` returns ``u = Lbar(x)`` (and ``p = grad_Lbar(x)`` if given, else NaN).
    nu : float, > 0
        Viscosity.
    grid : array, pair of arrays or QuadratureGrid, optional
        Quadrature nodes; or give ``domain`` and ``n`` (see :func:`quadrature_grid`).
    grad_Lbar : callable, optional
        Only used at ``t = 0``.

    Returns
    -------
    LocalEntropy
        ``converged`` when the grid resolves the kernel (step <= 0.75 sqrt(2 nu t)) and holds the
        Gibbs measure (edge mass <= 1e-10), and everything is finite.
    """
    t, nu = check_options(t=(t, TIME_RULE), nu=(nu, NU_RULE))
    grid = quadrature_grid(grid, domain=domain, n=n)
    coords = as_points(x, grid.dim)
    shape = coords[0].shape
    if t == 0.0:
        u = loss_on(Lbar, coords)
        if grad_Lbar is None:
            p = np.full(shape if grid.dim == 1 else (2, *shape), np.nan)
            msg = "t = 0: u = Lbar(x); p not computed (no grad_Lbar given)"
        else:
            p = np.asarray(grad_Lbar(*coords), dtype=float).reshape(shape if grid.dim == 1 else (2, *shape)).copy()
            msg = "t = 0: u = Lbar(x), p = grad_Lbar(x)"
        mean = np.array(coords[0]) if grid.dim == 1 else np.stack(coords)
        return LocalEntropy(u, p, mean, t, nu, 0.0, 0.0, bool(np.all(np.isfinite(u))), msg)
    loss = loss_on(Lbar, grid.mesh())
    floor = float(np.min(loss))  # exponents relative to the loss's minimum: no offset of size L/nu
    logz, mean, edge_mass = _gibbs(grid, loss - floor, coords, t, nu)
    u = floor - 2 * nu * (logz - grid.dim / 2 * np.log(4 * np.pi * nu * t))
    p = (np.stack([c.ravel() for c in coords]) - mean) / t
    resolution = grid.step / np.sqrt(2 * nu * t)
    finite = bool(np.all(np.isfinite(u)) and np.all(np.isfinite(p)))
    problems = []
    if resolution > MAX_RESOLUTION:
        problems.append(f"grid step is {resolution:.2f} kernel widths sqrt(2 nu t) (> {MAX_RESOLUTION}): refine")
    if edge_mass > MAX_EDGE_MASS:
        problems.append(f"Gibbs mass {edge_mass:.1e} on the domain's edge (> {MAX_EDGE_MASS:g}): enlarge the domain")
    if not finite:
        problems.append("non-finite output")
    msg = "; ".join(problems) or f"resolved: step/width {resolution:.2f}, edge mass {edge_mass:.1e}"
    if grid.dim == 1:
        p, mean = p[0].reshape(shape), mean[0].reshape(shape)
    else:
        p, mean = p.reshape((2, *shape)), mean.reshape((2, *shape))
    return LocalEntropy(u.reshape(shape), p, mean, t, nu, float(resolution), float(edge_mass), not problems, msg)


@dataclass(frozen=True)
class HopfLax:
    """Inviscid solution ``u_0(x, t) = min_y [Lbar(y) + |x - y|^2 / (2t)]`` with its minimiser ``argmin``
    (same layout as :attr:`LocalEntropy.mean`) and ``p = (x - argmin) / t``; ``index`` is the flat
    index of the grid node that wins before refinement."""

    u: np.ndarray
    argmin: np.ndarray
    p: np.ndarray
    index: np.ndarray
    t: float


def _quadratic_refine(Lbar, grid, nodes, index, stack, t):
    """Newton step on the quadratic fitted (least squares, exact for quadratics) to ``f_x`` on the 3^d
    stencil around each winning node, clipped to the neighbouring cells; returns refined points."""
    import itertools

    sub = np.array(np.unravel_index(index, grid.shape))  # (d, m)
    lo = np.array([[0] for _ in grid.axes])
    hi = np.array([[a.size - 1] for a in grid.axes])
    centre = np.clip(sub, lo + 1, hi - 1)  # stencil centre kept inside the grid
    offsets = list(itertools.product((-1, 0, 1), repeat=grid.dim))
    cols, vals = [], []
    y0 = np.stack([ax[c] for ax, c in zip(grid.axes, centre, strict=True)])
    scale = np.stack([(ax[c + 1] - ax[c - 1]) / 2 for ax, c in zip(grid.axes, centre, strict=True)])
    for off in offsets:
        y = np.stack([ax[c + o] for ax, c, o in zip(grid.axes, centre, off, strict=True)])
        f = loss_on(Lbar, tuple(y)) + np.sum((stack - y) ** 2, axis=0) / (2 * t)
        dy = (y - y0) / scale
        quad = [dy[k] * dy[q] for k in range(grid.dim) for q in range(k, grid.dim)]
        cols.append(np.stack([np.ones_like(f), *dy, *quad], axis=-1))
        vals.append(f)
    A, b = np.stack(cols, axis=1), np.stack(vals, axis=1)  # (m, 3^d, ncoef), (m, 3^d)
    coef = np.linalg.solve(np.einsum("mki,mkj->mij", A, A), np.einsum("mki,mk->mi", A, b)[..., None])[..., 0]
    d = grid.dim
    g = coef[:, 1:1 + d]
    H = np.empty((coef.shape[0], d, d))
    pos = 1 + d
    for k in range(d):
        for q in range(k, d):
            H[:, k, q] = H[:, q, k] = coef[:, pos] * (2 if k == q else 1)
            pos += 1
    eig = np.linalg.eigvalsh(H)
    ok = eig[:, 0] > 0
    step = np.zeros_like(g)
    step[ok] = -np.linalg.solve(H[ok], g[ok][..., None])[..., 0]
    low = np.stack([ax[c - 1] for ax, c in zip(grid.axes, centre, strict=True)])
    high = np.stack([ax[c + 1] for ax, c in zip(grid.axes, centre, strict=True)])
    return np.clip(y0 + step.T * scale, low, high)


def hopf_lax(Lbar, x, t, grid=None, *, domain=None, n=None, refine: bool = True) -> HopfLax:
    """The Hopf–Lax (inviscid, ``nu -> 0``) solution on a grid, with its minimiser.

    ``u_0(x, t) = min_y [Lbar(y) + |x - y|^2 / (2t)]`` is minimised over the grid nodes; with
    ``refine`` one Newton step on the quadratic fitted to ``f_x`` on the 3^d stencil around the
    winning node refines it (kept only where it lowers the value; exact for quadratic ``f_x``). The
    inviscid gradient is ``p = (x - y*) / t``; it jumps (a shock) where the minimiser does.
    ``t = 0`` returns ``Lbar(x)`` with ``argmin = x``.
    """
    (t,) = check_options(t=(t, TIME_RULE))
    (refine,) = check_options(refine=(refine, Rule.flag("whether to refine the grid minimum")))
    grid = quadrature_grid(grid, domain=domain, n=n)
    coords = as_points(x, grid.dim)
    shape = coords[0].shape
    stack = np.stack([c.ravel() for c in coords])
    if t == 0.0:
        lay = shape if grid.dim == 1 else (2, *shape)
        return HopfLax(loss_on(Lbar, coords), stack.reshape(lay), np.full(lay, np.nan), np.full(shape, -1), t)
    loss = loss_on(Lbar, grid.mesh()).ravel()
    nodes = [c.ravel() for c in grid.mesh()]
    m = stack.shape[1]
    index, u = np.empty(m, dtype=int), np.empty(m)
    step = max(1, _CHUNK // loss.size)
    for s in range(0, m, step):
        sl = slice(s, min(m, s + step))
        f = loss[None, :] + sum((p[sl, None] - y[None, :]) ** 2 for p, y in zip(stack, nodes, strict=True)) / (2 * t)
        index[sl] = np.argmin(f, axis=1)
        u[sl] = f[np.arange(f.shape[0]), index[sl]]
    arg = np.stack([y[index] for y in nodes])
    if refine:
        cand = _quadratic_refine(Lbar, grid, nodes, index, stack, t)
        ref = loss_on(Lbar, tuple(cand)) + np.sum((stack - cand) ** 2, axis=0) / (2 * t)
        keep = ref < u  # keep the refined point only where it is better than the best node
        u = np.where(keep, ref, u)
        arg = np.where(keep[None, :], cand, arg)
    p = (stack - arg) / t
    if grid.dim == 1:
        return HopfLax(u.reshape(shape), arg[0].reshape(shape), p[0].reshape(shape), index.reshape(shape), t)
    return HopfLax(u.reshape(shape), arg.reshape((2, *shape)), p.reshape((2, *shape)), index.reshape(shape), t)
