"""Claims of docs/math section 6.3: local entropy (Cole–Hopf), viscous HJ/Burgers, Hopf–Lax limit, shocks.

Random instances are quartic losses ``Lbar(y) = a4 y^4 + a3 y^3 + a2 y^2 + a1 y`` (a4 > 0), whose
Hessian minimum is known in closed form, ``inf Lbar'' = 2 a2 - 3 a3^2 / (4 a4)`` at
``y_c = -a3 / (4 a4)``, so the predicted first shock time is ``t* = 1 / max(0, -inf Lbar'')``.
Tolerances:

* Residuals (fourth-order finite differences, steps h = sqrt(2 nu t)/50, dt = t/50): measured
  1e-8..1e-6 relative; the issue's 1e-3 leaves three orders of magnitude.
* Hopf–Lax limit: Laplace's method gives ``u_nu - u_0 = nu log(1 + t Lbar''(y*)) + O(nu^2)`` for
  t < t*; the fitted slope of log max|u_nu - u_0| against log nu (nu = 0.02..0.0025) is 1 within
  0.05 (the O(nu) relative correction moves it by ~0.02 on these instances).
* Shock time on a time grid of step dt: detected first time t_d must satisfy
  ``t* < t_d <= t* + dt + delta_h`` and no shock before t*, where ``delta_h`` bounds the shift of the
  grid's t* (second differences of a quartic are ``Lbar''(y_k) + h^2 Lbar''''/12`` and the nearest
  node is within h/2 of y_c): ``lambda_grid - lambda <= Lbar'''' h^2 (1/12 + 1/8)``.
"""

from __future__ import annotations

import numpy as np

from .registry import ClaimResult, register

_SIZES = ("small", "medium")


def _quartic(rng, kind: str):
    """(Lbar, Lbar', Lbar'', a4, inf Lbar'', y_c) for a random quartic of the given kind."""
    a4 = rng.uniform(0.1, 0.5)
    a3 = rng.uniform(-0.5, 0.5)
    base = 3 * a3**2 / (8 * a4)  # a2 at which inf Lbar'' = 0
    if kind == "convex":
        a2 = base + rng.uniform(0.0, 0.5) * (rng.random() < 0.8)  # includes marginally convex
    else:
        a2 = base - rng.uniform(0.2, 1.0)
    a1 = rng.uniform(-0.3, 0.3)
    L = lambda y: ((a4 * y + a3) * y + a2) * y**2 + a1 * y  # noqa: E731
    dL = lambda y: ((4 * a4 * y + 3 * a3) * y + 2 * a2) * y + a1  # noqa: E731
    d2L = lambda y: (12 * a4 * y + 6 * a3) * y + 2 * a2  # noqa: E731
    return L, dL, d2L, a4, 2 * a2 - 3 * a3**2 / (4 * a4), -a3 / (4 * a4)


def _residual_instances(rng, size):
    from ..symmetries.viscous_residuals import viscous_residuals

    out = []
    for _ in range(1 if size == "small" else 3):
        L, _, _, _, _, yc = _quartic(rng, "nonconvex" if rng.random() < 0.7 else "convex")
        nu, t = rng.uniform(0.05, 0.5), rng.uniform(0.2, 2.0)
        x = yc + rng.uniform(-1.5, 1.5, 12)
        out.append(("1-D", viscous_residuals(L, x, t, nu, domain=(yc - 6, yc + 6), n=801)))
    for _ in range(1 if size == "small" else 2):
        s, lam, c = rng.uniform(-1.5, 1.5), rng.uniform(0.02, 0.3), rng.uniform(-0.5, 0.5)
        L2 = lambda a, b, s=s, lam=lam, c=c: (a * b - s) ** 2 / 2 + lam * (a**2 + b**2) / 2 + c * a  # noqa: E731
        nu, t = rng.uniform(0.1, 0.2), rng.uniform(0.25, 0.5)
        x = rng.uniform(-1.0, 1.0, (2, 6))
        out.append(("2-D", viscous_residuals(L2, x, t, nu, domain=((-4.5, 4.5),) * 2, n=61)))
    return out


@register(
    "symmetries.burgers.cole_hopf_hj",
    "The Cole–Hopf local entropy u = -2 nu log int p_{nu t}(x,y) exp(-Lbar(y)/(2 nu)) dy (heat kernel of variance"
    " 2 nu t) solves u_t + |grad u|^2/2 = nu Lap u: finite-difference residual below 1e-3 relative on random quartic"
    " (1-D) and DLN-type (2-D) losses, random nu and t.",
    section="6.3", tag="known", sizes=_SIZES,
)
def _cole_hopf_hj(rng, size):
    runs = _residual_instances(rng, size)
    worst = max(r.hj for _, r in runs)
    resolved = all(r.converged for _, r in runs)
    return ClaimResult(worst, 0.0, 1e-3, passed=bool(worst <= 1e-3 and resolved),
                       detail="; ".join(f"{d}: HJ residual {r.hj:.1e} (nu t scale {r.hj_scale:.2g}), {r.message}"
                                        for d, r in runs))


@register(
    "symmetries.burgers.viscous_burgers",
    "p = grad u = (x - <y>_Gibbs)/t (Gibbs mean, no finite differences) solves viscous Burgers"
    " p_t + (p.grad)p = nu Lap p: residual below 1e-3 relative; p agrees with the finite-difference gradient of u.",
    section="6.3", tag="known", sizes=_SIZES,
)
def _viscous_burgers(rng, size):
    runs = _residual_instances(rng, size)
    worst = max(r.burgers for _, r in runs)
    grad = max(r.gradient_mismatch for _, r in runs)
    ok = worst <= 1e-3 and grad <= 1e-6 and all(r.converged for _, r in runs)
    return ClaimResult(worst, 0.0, 1e-3, passed=bool(ok),
                       detail=f"Burgers residual {worst:.1e} (<= 1e-3); |p - D_x u|/|p| {grad:.1e} (<= 1e-6: the"
                              " 4th-order gradient's error, h^4 u^(5) ~ 1e-8 measured)")


@register(
    "symmetries.burgers.hopf_lax_limit",
    "As nu -> 0 the local entropy tends to the Hopf–Lax solution min_y [Lbar(y) + |x-y|^2/(2t)] at rate 1 in nu"
    " (fitted log-log slope 1 +- 0.05), with first-order term nu log(1 + t Lbar''(y*)) (Laplace), for t <= 0.6 t*.",
    section="6.3", tag="known", sizes=_SIZES,
)
def _hopf_lax_limit(rng, size):
    from ..symmetries.local_entropy import hopf_lax, local_entropy

    kind = "nonconvex" if rng.random() < 0.7 else "convex"
    L, _, d2L, _, lmin, yc = _quartic(rng, kind)
    t_star = np.inf if lmin >= 0 else 1 / -lmin
    t = rng.uniform(0.2, 0.6) * min(t_star, 2.0)  # 1 + t Lbar'' >= 0.4: the Laplace regime at these nu
    x = yc + np.linspace(-1.5, 1.5, 13 if size == "small" else 41)
    grid = dict(domain=(yc - 6, yc + 6), n=1601 if size == "small" else 4001)
    ref = hopf_lax(L, x, t, **grid)
    nus = np.array([0.02, 0.01, 0.005, 0.0025])
    errs, const = [], []
    first = np.log1p(t * d2L(ref.argmin))
    for nu in nus:
        r = local_entropy(L, x, t, nu, **grid)
        if not r.converged:
            return ClaimResult(np.nan, 1.0, 0.05, passed=False, detail=f"quadrature not resolved: {r.message}")
        errs.append(np.max(np.abs(r.u - ref.u)))
        const.append(np.max(np.abs((r.u - ref.u) / nu - first)))
    slope = float(np.polyfit(np.log(nus), np.log(errs), 1)[0])
    # the Laplace remainder is O(nu): relative to the first-order term it must be small at the
    # smallest nu and shrink like nu over nu = 0.02 -> 0.0025 (ratio 1/8; O(sqrt nu) would give 0.35).
    # Over 300 seeds: relative remainder <= 0.03, ratio <= 0.19.
    rel = const[-1] / max(np.max(np.abs(first)), 1e-3)
    ratio = const[-1] / const[0]
    ok = abs(slope - 1) <= 0.05 and rel <= 0.25 and ratio <= 0.3
    return ClaimResult(slope, 1.0, 0.05, passed=bool(ok),
                       detail=f"{kind} quartic, t = {t:.3g} (t* = {t_star:.3g}); max|u_nu - u_0| = "
                              + ", ".join(f"{e:.2e}" for e in errs)
                              + f" at nu = {nus.tolist()}; |(u_nu-u_0)/nu - log(1+t L'')| = {const[-1]:.2e}"
                              f" at nu = {nus[-1]} ({rel:.2f} of the first-order term, <= 0.25),"
                              f" {ratio:.2f} of its value at nu = {nus[0]} (<= 0.3; O(nu) predicts 1/8)")


def _detect(L, d2L_min, a4, t_star, h, span=(0.5, 1.5), steps=100, n=None, domain=None):
    from ..symmetries.shocks import first_shock_time

    times = t_star * np.linspace(span[0], span[1], steps + 1)
    dt = times[1] - times[0]
    fs = first_shock_time(L, times, domain=domain, n=n, stop_at_first=True)
    shift = 24 * a4 * h**2 * (1 / 12 + 1 / 8)  # bound on lambda_grid - lambda (module docstring)
    t_grid_bound = 1 / (-d2L_min - shift) if -d2L_min > shift else np.inf
    before = bool(np.any(fs.detected[times <= t_star]))
    ok = (not before) and t_star < fs.time <= t_grid_bound + dt
    return fs, dt, t_grid_bound, before, ok


@register(
    "symmetries.burgers.shock_time",
    "Inviscid shocks (jumps of the Hopf–Lax minimiser) first appear at t* = 1/max(0, -inf Lbar''): for the double well"
    " (x^2-1)^2/4 at t* = 1 and for random non-convex quartics, the first shock on a time grid is within one grid"
    " step (plus the O(h^2) grid shift) after t*, and none before.",
    section="6.3", tag="derived", sizes=_SIZES,
)
def _shock_time(rng, size):
    n = 801 if size == "small" else 3201
    worst, details, ok_all = 0.0, [], True
    cases = [("double well", lambda y: (y**2 - 1) ** 2 / 4, -1.0, 0.25, 0.0)]
    for _ in range(2 if size == "small" else 6):
        L, _, _, a4, lmin, yc = _quartic(rng, "nonconvex")
        cases.append(("random quartic", L, lmin, a4, yc))
    for name, L, lmin, a4, yc in cases:
        t_star = 1 / -lmin
        domain = (yc - 4, yc + 4)
        h = 8 / (n - 1)
        fs, dt, bound, before, ok = _detect(L, lmin, a4, t_star, h, n=n, domain=domain)
        ok_all &= ok
        worst = max(worst, (fs.time - t_star) / dt)
        details.append(f"{name}: t* = {t_star:.4g}, first shock {fs.time:.4g} (grid step {dt:.2g}, "
                       f"grid t* <= {bound:.5g}), shock before t*: {before}")
    return ClaimResult(worst, 1.0, 1.0, passed=bool(ok_all),
                       detail="measured (t_detect - t*)/dt in (0, 1 + O(h^2)]; " + "; ".join(details))


@register(
    "symmetries.burgers.characteristics",
    "Characteristics x = y + t Lbar'(y) from grid nodes first cross at t* = 1/max(0, -inf Lbar'') (to O(h^2));"
    " the given-Hessian and finite-difference predictions agree to O(h^2).",
    section="6.3", tag="derived", sizes=_SIZES,
)
def _characteristics(rng, size):
    from ..symmetries.shocks import first_crossing_time, predicted_shock_time

    n = 801 if size == "small" else 3201
    worst, ok = 0.0, True
    for _ in range(3 if size == "small" else 10):
        L, dL, d2L, a4, lmin, yc = _quartic(rng, "nonconvex")
        t_star, domain, h = 1 / -lmin, (yc - 4, yc + 4), 8 / (n - 1)
        tc, _ = first_crossing_time(dL, domain=domain, n=n)
        fd = predicted_shock_time(L, domain=domain, n=n).t_star
        given = predicted_shock_time(hessian=d2L, domain=domain, n=n).t_star
        # divided differences of L' / L'' of a quartic sit within L'''' h^2 (1/12 + 1/8) of inf L''
        tol = t_star**2 * 24 * a4 * h**2 * (1 / 12 + 1 / 8) * 1.01 + 1e-12 * t_star
        for val in (tc, fd, given):
            worst = max(worst, abs(val - t_star) / tol)
            ok &= t_star - 1e-12 * t_star <= val <= t_star + tol
    return ClaimResult(worst, 0.0, 1.0, passed=bool(ok),
                       detail="max |t - t*| / (t*^2 L'''' h^2 5/24) over crossing, FD and given-Hessian times"
                              " (each must lie in [t*, t* + bound])")


@register(
    "symmetries.burgers.convex_no_shock",
    "Convex losses never shock: random convex quartics (including marginally convex ones) and quadratics show no"
    " minimiser jump up to t = 1000, predicted t* = inf (1-D, and 2-D convex quadratics by finite differences).",
    section="6.3", tag="derived", sizes=_SIZES,
)
def _convex_no_shock(rng, size):
    from ..symmetries.shocks import first_crossing_time, first_shock_time, predicted_shock_time

    n = 801 if size == "small" else 3201
    times = np.geomspace(0.01, 1000, 25)
    found, predicted = [], []
    for _ in range(2 if size == "small" else 6):
        L, dL, _, _, _, yc = _quartic(rng, "convex")
        fs = first_shock_time(L, times, domain=(yc - 4, yc + 4), n=n)
        found.append(fs.time)
        predicted.append(predicted_shock_time(L, domain=(yc - 4, yc + 4), n=n).t_star)
        predicted.append(first_crossing_time(dL, domain=(yc - 4, yc + 4), n=n)[0])
    Q = rng.standard_normal((2, 2))
    A = Q @ Q.T + 0.01 * np.eye(2)
    L2 = lambda a, b: (A[0, 0] * a**2 + 2 * A[0, 1] * a * b + A[1, 1] * b**2) / 2  # noqa: E731
    g2 = lambda a, b: np.stack([A[0, 0] * a + A[0, 1] * b, A[1, 0] * a + A[1, 1] * b])  # noqa: E731
    predicted.append(predicted_shock_time(L2, domain=((-3, 3), (-3, 3)), n=61).t_star)
    predicted.append(first_crossing_time(g2, domain=((-3, 3), (-3, 3)), n=61)[0])
    ok = all(np.isinf(found)) and all(np.isinf(predicted))
    return ClaimResult(float(np.min(found)), np.inf, 0.0, passed=bool(ok),
                       detail=f"first shock times {found}; predicted/crossing times {predicted} (all must be inf)")


@register(
    "symmetries.burgers.rankine_hugoniot",
    "At every detected shock of a non-convex quartic plus a sine the Lax condition p_left > p_right holds and the"
    " shock moves at the Rankine–Hugoniot speed (p_left + p_right)/2 (central difference of positions, to 1e-3|jump|).",
    section="6.3", tag="known", sizes=_SIZES,
)
def _rankine_hugoniot(rng, size):
    from ..symmetries.shocks import predicted_shock_time, shocks_1d

    n = 4001 if size == "small" else 16001
    worst, lax, checked = 0.0, True, 0
    for _ in range(2 if size == "small" else 6):
        # a quartic alone is a tilted symmetric double well (its shock moves at constant speed): add
        # a sine so the shock accelerates
        Lq, _, d2q, _, lmin, yc = _quartic(rng, "nonconvex")
        k = rng.uniform(1.0, 3.0)
        b = rng.uniform(0.1, 0.5) * -lmin / k**2  # keeps inf Lbar'' <= lmin / 2 < 0: a shock forms
        L = lambda y, Lq=Lq, b=b, k=k: Lq(y) + b * np.sin(k * y)  # noqa: E731
        grid = dict(domain=(yc - 5, yc + 5), n=n)
        t_star = predicted_shock_time(hessian=lambda y, d2q=d2q, b=b, k=k: d2q(y) - b * k**2 * np.sin(k * y),
                                      **grid).t_star
        t = rng.uniform(1.5, 3.0) * t_star
        dt = 0.02 * t
        sm, s0, sp = (shocks_1d(L, tt, **grid) for tt in (t - dt, t, t + dt))
        if not (sm.count == s0.count == sp.count >= 1):
            return ClaimResult(np.nan, 0.0, 1e-3, passed=False, detail=f"shock counts {sm.count, s0.count, sp.count}")
        lax &= bool(np.all(s0.lax))
        speed = (sp.position - sm.position) / (2 * dt)
        scale = np.abs(s0.jump)  # speeds compared on the scale of the jump
        worst = max(worst, float(np.max(np.abs(speed - s0.speed) / scale)))
        checked += s0.count
    # position error O(h^2) / (2 dt) + O(dt^2) path curvature + O(h^2) states (parabola-refined
    # minimisers): measured <= 1e-4 of the jump over 100 seeds
    return ClaimResult(worst, 0.0, 1e-3, passed=bool(lax and worst <= 1e-3),
                       detail=f"{checked} shocks, Lax condition {'holds' if lax else 'FAILS'}; max |speed - RH|/|jump|"
                              f" {worst:.1e}")


@register(
    "symmetries.burgers.quotient_vs_raw",
    "Scalar DLN x = w2 w1, loss (x - s)^2/2: in the quotient coordinate x no shock (t* = inf, none detected); in raw"
    " parameters the finite-difference Hessian gives t*_raw = 1/(R^2 + |s|) on the box [-R, R]^2 (shrinking with the"
    " box); the raw local entropy on the fiber of minima w1 w2 = s is smallest at the balanced point, and at small t"
    " u(tau) - u(0) = 2 nu t |s| (cosh 2 tau - 1) (1 + O(t)).",
    section="6.3", tag="derived", sizes=_SIZES,
)
def _quotient_vs_raw(rng, size):
    from ..symmetries.burgers_quotient import quotient_vs_raw
    from ..symmetries.local_entropy import local_entropy

    s = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 2.0)
    R = rng.uniform(1.0, 3.0)
    nu = rng.uniform(0.03, 0.1)
    n_box = 41 if size == "small" else 161
    tau = np.linspace(-0.5, 0.5, 11)
    r = quotient_vs_raw(lambda x: (x - s) ** 2 / 2, s, 0.05, nu, box=R, hessian=lambda x: np.ones_like(x),
                        n_box=n_box, tau=tau, times=np.geomspace(0.01, 100, 30))
    r_in = R - 2 * R / (n_box - 1)  # the finite-difference Hessian lives on the interior nodes
    expected = 1 / (r_in**2 + abs(s))
    # second differences are exact on this polynomial of degree 2 in each variable: rounding only
    raw_err = abs(r.t_star_raw - expected) / expected
    # leading order of u along the fiber, two small times: the relative error must be O(t)
    errs = []
    for t in (0.01, 0.02):
        w = (np.sqrt(abs(s)) * np.exp(tau), np.sign(s) * np.sqrt(abs(s)) * np.exp(-tau))
        width = np.sqrt(2 * nu * t)
        reach = np.sqrt(abs(s)) * np.exp(0.5) + 8 * width
        n = int(np.ceil(2 * reach / (0.5 * width))) + 1
        u = local_entropy(lambda a, b: (a * b - s) ** 2 / 2, w, t, nu, domain=((-reach, reach),) * 2, n=n).u
        pred = 2 * nu * t * abs(s) * (np.cosh(2 * tau) - 1)
        off = tau != 0
        errs.append(float(np.max(np.abs((u - u[5])[off] / pred[off] - 1))))
    ok = (np.isinf(r.t_star_quotient) and np.isinf(r.first_shock_quotient) and raw_err <= 1e-9
          and r.balanced_is_min and r.converged and errs[1] <= 0.3 and errs[0] <= 0.65 * errs[1])
    return ClaimResult(raw_err, 0.0, 1e-9, passed=bool(ok),
                       detail=f"s = {s:.3g}, R = {R:.3g}: quotient t* = {r.t_star_quotient}, detected "
                              f"{r.first_shock_quotient}; raw t* {r.t_star_raw:.6g} vs 1/(R_in^2+|s|) = {expected:.6g}"
                              f" (rel {raw_err:.1e} <= 1e-9); fiber minimum balanced: {r.balanced_is_min}; small-t"
                              f" expansion rel. error {errs[0]:.3f} at t = 0.01, {errs[1]:.3f} at t = 0.02 (<= 0.3,"
                              " and shrinking like t: ratio <= 0.65)")
