"""Residuals of the viscous Hamilton–Jacobi and Burgers equations for the Cole–Hopf local entropy.

Checks that :func:`~dln_git.symmetries.local_entropy.local_entropy` solves (docs/math section 6.3)::

    HJ:       u_t + 1/2 |grad u|^2 - nu Lap u = 0,
    Burgers:  p_t + (p . grad) p - nu Lap p = 0,    p = grad u = (x - <y>_x) / t,

by fourth-order central finite differences in x and t (stencil ``x +- h e_k, x +- 2h e_k``,
``t +- dt, t +- 2dt``). The HJ residual differentiates ``u`` only (its gradient too), so it does
not rely on the Gibbs-mean formula for ``p``; the Burgers residual differentiates that formula.
Each residual is reported relative to the size of the terms it balances::

    rel_HJ = max |u_t + 1/2 |u_x|^2 - nu Lap u| / max (|u_t| + 1/2 |u_x|^2 + nu |Lap u|),

(and likewise for Burgers, over components), maxima over the given points, which should lie in
the interior of the quadrature domain. The finite-difference error is O(h^4 u^(6)) plus rounding
``~ eps |u| / h^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .local_entropy import NU_RULE, as_points, local_entropy, quadrature_grid

__all__ = ["ViscousResiduals", "viscous_residuals"]

_D1 = np.array([1.0, -8.0, 0.0, 8.0, -1.0]) / 12.0  # f' * h, stencil offsets -2..2
_D2 = np.array([-1.0, 16.0, -30.0, 16.0, -1.0]) / 12.0  # f'' * h^2


@dataclass(frozen=True)
class ViscousResiduals:
    """Relative HJ and Burgers residuals over the points (see the module docstring).

    ``gradient_mismatch`` is ``max |p - D_x u| / max |p|``: the Gibbs-mean gradient against the
    finite-difference gradient of ``u``. ``converged`` is the quadrature's verdict at every stencil
    point (``message`` says why not).
    """

    hj: float
    burgers: float
    gradient_mismatch: float
    hj_scale: float
    burgers_scale: float
    h: float
    dt: float
    converged: bool
    message: str


def viscous_residuals(Lbar, x, t, nu, grid=None, *, domain=None, n=None, h=None, dt=None) -> ViscousResiduals:
    """Finite-difference residuals of viscous HJ (for ``u``) and Burgers (for ``p``) at points ``x``.

    Parameters
    ----------
    Lbar, x, t, nu, grid, domain, n
        As in :func:`~dln_git.symmetries.local_entropy.local_entropy`; ``t > 0``.
    h : float, optional
        Spatial step (default ``0.02 min(1, sqrt(2 nu t))``, a fiftieth of the kernel width).
    dt : float, optional
        Time step (default ``t / 50``, so ``t - 2 dt > 0``).
    """
    t, nu = check_options(t=(t, Rule.positive("the time t, > 0")), nu=(nu, NU_RULE))
    width = np.sqrt(2 * nu * t)
    h = 0.02 * min(1.0, width) if h is None else h
    dt = t / 50 if dt is None else dt
    h, dt = check_options(h=(h, Rule.positive("the spatial step")),
                          dt=(dt, Rule.positive("the time step", high=t / 2)))
    grid = quadrature_grid(grid, domain=domain, n=n)
    d = grid.dim
    coords = as_points(x, d)
    pts = np.stack([c.ravel() for c in coords])  # (d, m)
    offs = np.arange(-2, 3)

    # u and p on the space stencil at time t (one call), and at t + k dt for the time derivatives.
    shifted = [pts + o * h * np.eye(d)[:, [k]] for k in range(d) for o in offs]
    space = local_entropy(Lbar, tuple(np.concatenate([s[q] for s in shifted]) for q in range(d)) if d == 2
                          else np.concatenate([s[0] for s in shifted]), t, nu, grid)
    m = pts.shape[1]
    U = space.u.reshape(d, 5, m)
    P = np.asarray(space.p).reshape(d, d, 5, m) if d == 2 else space.p.reshape(1, 1, 5, m)
    # P[component, axis, offset, point]
    times = [local_entropy(Lbar, coords if d == 2 else coords[0], t + o * dt, nu, grid) for o in offs if o != 0]
    ut_vals = np.stack([r.u.ravel() for r in times[:2]] + [U[0, 2]] + [r.u.ravel() for r in times[2:]])
    pt_vals = np.stack([np.asarray(r.p).reshape(d, m) for r in times[:2]] + [P[:, 0, 2]]
                       + [np.asarray(r.p).reshape(d, m) for r in times[2:]])  # (5, d, m)
    u_t = np.tensordot(_D1, ut_vals, axes=1) / dt
    u_x = np.tensordot(U, _D1, axes=([1], [0])) / h  # (d, m)
    lap_u = np.tensordot(U, _D2, axes=([1], [0])).sum(axis=0) / h**2
    hj_terms = np.stack([u_t, 0.5 * np.sum(u_x**2, axis=0), nu * lap_u])
    hj_res = u_t + 0.5 * np.sum(u_x**2, axis=0) - nu * lap_u
    hj_scale = float(np.max(np.sum(np.abs(hj_terms), axis=0)))

    p0 = P[:, 0, 2]  # (d, m)
    p_t = np.tensordot(_D1, pt_vals, axes=1) / dt  # (d, m)
    grad_p = np.tensordot(P, _D1, axes=([2], [0])) / h  # (component, axis, m)
    lap_p = np.tensordot(P, _D2, axes=([2], [0])).sum(axis=1) / h**2  # (d, m)
    adv = np.einsum("km,jkm->jm", p0, grad_p)
    b_res = p_t + adv - nu * lap_p
    b_scale = float(np.max(np.abs(p_t) + np.abs(adv) + nu * np.abs(lap_p)))
    mismatch = float(np.max(np.abs(p0 - u_x)) / max(np.max(np.abs(p0)), np.finfo(float).tiny))

    ok = space.converged and all(r.converged for r in times)
    msg = space.message if not space.converged else next((r.message for r in times if not r.converged), space.message)
    tiny = np.finfo(float).tiny
    return ViscousResiduals(
        float(np.max(np.abs(hj_res)) / max(hj_scale, tiny)), float(np.max(np.abs(b_res)) / max(b_scale, tiny)),
        mismatch, hj_scale, b_scale, float(h), float(dt), bool(ok), msg,
    )
