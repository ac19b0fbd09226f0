"""Local entropy and Burgers shocks in the quotient coordinate of a scalar DLN versus raw parameters.

A scalar depth-2 network ``x = w_2 w_1`` has the gauge symmetry ``(w_1, w_2) -> (c w_1, w_2 / c)``;
the end-to-end value x (:func:`dln_git.core.end_to_end`) is the quotient coordinate (docs/math
sections 1 and 6.3). A loss of the function, ``Lbar(x)``, pulls back to ``L(w) = Lbar(w_1 w_2)``.
What the Cole–Hopf / Burgers analysis shows in each picture:

* **Quotient coordinate.** The shock time ``t* = 1 / max(0, -inf Lbar'')`` is intrinsic. A convex
  ``Lbar`` (e.g. ``(x - s)^2 / 2``) never shocks; the double well ``(x^2 - 1)^2 / 4`` shocks at
  ``t* = 1``, at ``x = 0``: the inviscid minimiser jumps between the basins ``x < 0`` and ``x > 0``,
  a phase transition in the sign of the end-to-end map.
* **Raw parameters.** ``L`` has non-isolated minima (the hyperbola ``w_1 w_2 = s``) and a saddle at
  the origin (the gauge group's fixed point). Its Hessian
  ``Lbar''(x) v v^T + Lbar'(x) [[0, 1], [1, 0]]``, ``v = (w_2, w_1)``, is unbounded below along the
  non-compact fibers: for ``Lbar = (x - s)^2 / 2`` on the box ``[-R, R]^2``,
  ``inf lambda_min = -(R^2 + |s|)`` (attained at ``w_1 = -sign(s) w_2 = R``; bound
  ``-lambda_min <= |2 w_1 w_2 - s| - min(w_1^2, w_2^2) <= R^2 + |s|``) **[derived]**, so
  ``t*_raw = 1 / (R^2 + |s|)`` shrinks to 0 as the box grows: raw-parameter shocks are an artefact
  of the parametrisation, absent from the convex quotient loss.
* **Balance.** The raw local entropy is not a function of x alone: the heat kernel is not invariant
  under the (non-isometric) gauge action. On the fiber of minimisers ``w = (sqrt|s| e^tau,
  sign(s) sqrt|s| e^-tau)``, for small t, ``u(w, t) = Lbar(s) + nu t Lbar''(s) |w|^2 + O(t^2)``
  (from ``u_t = nu Lap u - |grad u|^2 / 2`` at t = 0, ``Lap L = Lbar''(x) |w|^2`` and
  ``grad L = 0`` on the fiber), i.e. ``u(tau) - u(0) ~ 2 nu t s Lbar''(s) (cosh 2 tau - 1)``: the
  local entropy selects the *balanced* representative ``|w_1| = |w_2|`` **[derived]**.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .local_entropy import NU_RULE, local_entropy
from .shocks import first_shock_time, predicted_shock_time

__all__ = ["QuotientBurgers", "quotient_vs_raw"]


@dataclass(frozen=True)
class QuotientBurgers:
    """The quotient-versus-raw comparison (see the module docstring).

    ``t_star_quotient`` (given or finite-difference ``Lbar''`` on the x grid) and
    ``first_shock_quotient`` (detected on ``times``); ``t_star_raw`` (finite-difference Hessian of
    ``Lbar(w_1 w_2)`` on ``[-box, box]^2``) at ``raw_location``; along the fiber ``w_1 w_2 = x0``
    the gauge coordinates ``tau`` and the raw local entropy ``fiber_u`` at time ``t``, and
    ``balanced_is_min`` (the minimum over tau is at tau = 0).
    """

    t_star_quotient: float
    first_shock_quotient: float
    t_star_raw: float
    raw_location: np.ndarray
    box: float
    tau: np.ndarray
    fiber_u: np.ndarray
    balanced_is_min: bool
    converged: bool
    message: str


def quotient_vs_raw(Lbar, x0, t, nu, *, box=2.0, hessian=None, times=None, x_domain=(-3.0, 3.0), n_x=801,
                    n_box=81, tau=None) -> QuotientBurgers:
    """Compare the Burgers picture of ``Lbar(x)`` in the quotient coordinate with ``Lbar(w_1 w_2)``.

    Parameters
    ----------
    Lbar : callable
        Vectorised loss of the end-to-end value x.
    x0 : float, nonzero
        The fiber ``w_1 w_2 = x0``, parametrised ``w = (sqrt|x0| e^tau, sign(x0) sqrt|x0| e^-tau)``, along
        which the raw local entropy is evaluated.
    t, nu : float
        Time (> 0) and viscosity (> 0) of the raw local entropy on the fiber.
    box : float
        Half-width R of the raw-parameter box for ``t*_raw``.
    hessian : callable, optional
        ``Lbar''`` for the quotient prediction (default: finite differences).
    times : array, optional
        Time grid for the detected quotient shock (default ``linspace(0.02, 3, 150)``).
    tau : array, optional
        Gauge coordinates on the fiber (default ``linspace(-1, 1, 11)``).
    """
    t, nu, x0, box = check_options(t=(t, Rule.positive("the time t")), nu=(nu, NU_RULE),
                                   x0=(x0, Rule("real", what="the fiber value x0 = w1 w2, nonzero")),
                                   box=(box, Rule.positive("the half-width of the raw box")))
    if x0 == 0.0:
        raise ValueError("x0 = 0.0: the fiber w1 w2 = 0 is not a gauge orbit (give x0 != 0)")
    times = np.linspace(0.02, 3.0, 150) if times is None else times
    tau = np.linspace(-1.0, 1.0, 11) if tau is None else np.asarray(tau, dtype=float)
    quot = predicted_shock_time(Lbar, domain=x_domain, n=n_x, hessian=hessian)
    detected = first_shock_time(Lbar, times, domain=x_domain, n=n_x, stop_at_first=True)
    raw = predicted_shock_time(lambda a, b: Lbar(a * b), domain=((-box, box), (-box, box)), n=n_box)
    w = (np.sqrt(abs(x0)) * np.exp(tau), np.sign(x0) * np.sqrt(abs(x0)) * np.exp(-tau))
    width = np.sqrt(2 * nu * t)
    reach = float(np.max(np.abs(np.concatenate(w)))) + 8 * width
    n = int(np.ceil(2 * reach / (0.5 * width))) + 1
    fiber = local_entropy(lambda a, b: Lbar(a * b), w, t, nu, domain=((-reach, reach), (-reach, reach)), n=n)
    k0 = int(np.argmin(np.abs(tau)))
    balanced = bool(np.isclose(tau[k0], 0.0) and int(np.argmin(fiber.u)) == k0)
    msg = (f"quotient t* = {quot.t_star:.4g} (detected {detected.time:.4g}); raw t* on [-{box:g}, {box:g}]^2 = "
           f"{raw.t_star:.4g} at w = {np.round(raw.location, 3).tolist()}; raw local entropy on the fiber "
           f"w1 w2 = {x0:g} minimal at tau = {tau[int(np.argmin(fiber.u))]:.3g}; quadrature: {fiber.message}")
    return QuotientBurgers(quot.t_star, detected.time, raw.t_star, raw.location, box, tau.copy(), fiber.u,
                           balanced, fiber.converged, msg)
