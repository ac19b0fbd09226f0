"""Shock time prediction, characteristics, hull-based shock detection, and the quotient example.

Independent references: the double well's closed-form shock states ``y_+- = +-sqrt((t-1)/t)`` for
t > 1 (the two minimisers of ``f_0(y) = y^4/4 - (1 - 1/t) y^2/2 + 1/4``); the tilt identity (Hopf–Lax
of ``Lbar + e y`` is ``u(x - e t, t) + e x - e^2 t / 2``, so shocks move at speed e); brute-force
Hopf–Lax minimisation on a fine x grid; a direct scan of the characteristics' order; eigenvalues
of constant Hessians.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.symmetries.burgers_quotient import quotient_vs_raw
from dln_git.symmetries.local_entropy import hopf_lax
from dln_git.symmetries.shocks import (
    characteristics,
    first_crossing_time,
    first_shock_time,
    predicted_shock_time,
    shocks_1d,
)


def double_well(y):
    return (y**2 - 1) ** 2 / 4


def test_double_well_prediction_given_and_finite_differences():
    given_h = predicted_shock_time(hessian=lambda y: 3 * y**2 - 1, domain=(-3, 3), n=601)
    assert given_h.t_star == 1.0 and given_h.location[0] == pytest.approx(0.0, abs=1e-12)
    assert "given" in given_h.method
    # second differences of a quartic: Lbar''(y) + h^2 Lbar''''/12 = -1 + h^2/2 at y = 0 (O(h^2))
    errs = []
    for n in (301, 601, 1201):
        h = 6 / (n - 1)
        p = predicted_shock_time(double_well, domain=(-3, 3), n=n)
        assert p.lambda_min == pytest.approx(-1 + h**2 / 2, abs=1e-9)
        errs.append(p.t_star - 1)
    assert errs[0] / errs[1] == pytest.approx(4, rel=0.01) and errs[1] / errs[2] == pytest.approx(4, rel=0.01)


def test_characteristics_crossing_against_a_direct_scan():
    dL = lambda y: y**3 - y  # noqa: E731
    y = np.linspace(-2, 2, 401)
    tc, where = first_crossing_time(dL, y)
    times = np.linspace(0.9, 1.1, 2001)
    order_lost = [t for t in times if np.any(np.diff(characteristics(dL, y, t)) <= 0)]
    assert order_lost[0] - (times[1] - times[0]) < tc <= order_lost[0]
    # neighbours y0, y1 cross at 1 / (1 - (y0^2 + y0 y1 + y1^2)): within h^2 = 1e-4 of t* = 1 (relative)
    assert 1.0 < tc <= 1 / (1 - 1e-4) + 1e-12 and abs(where[0]) < 0.01
    # 2-D: a linear gradient field A y has cell Jacobian A exactly; first fold at 1/|lambda_min(A)|
    rng = np.random.default_rng(5)
    for _ in range(3):
        Q = rng.standard_normal((2, 2))
        A = (Q + Q.T) / 2
        g = lambda a, b, A=A: np.stack([A[0, 0] * a + A[0, 1] * b, A[1, 0] * a + A[1, 1] * b])  # noqa: E731
        lam = np.linalg.eigvalsh(A)[0]
        tc, _ = first_crossing_time(g, domain=((-1, 1), (-1, 1)), n=11)
        assert tc == (pytest.approx(-1 / lam, rel=1e-10) if lam < 0 else np.inf)
        L = lambda a, b, A=A: (A[0, 0] * a**2 + 2 * A[0, 1] * a * b + A[1, 1] * b**2) / 2  # noqa: E731
        p = predicted_shock_time(L, domain=((-1, 1), (-1, 1)), n=11)
        assert p.lambda_min == pytest.approx(lam, abs=1e-12)


@pytest.mark.parametrize("t", [1.05, 1.5, 3.0])
def test_double_well_shock_states_closed_form(t):
    s = shocks_1d(double_well, t, domain=(-3, 3), n=3001)
    assert s.count == 1
    yp = np.sqrt((t - 1) / t)
    assert s.position[0] == pytest.approx(0.0, abs=1e-12)
    assert s.y_left[0] == pytest.approx(-yp, abs=1e-5) and s.y_right[0] == pytest.approx(yp, abs=1e-5)
    assert s.p_left[0] == pytest.approx(yp / t, abs=1e-5) and s.p_right[0] == pytest.approx(-yp / t, abs=1e-5)
    assert s.lax[0] and s.speed[0] == pytest.approx(0.0, abs=1e-5)
    assert s.jump[0] == pytest.approx(-2 * yp / t, abs=2e-5)


@given(e=st.floats(-0.5, 0.5), t=st.floats(1.2, 3.0))
def test_tilted_double_well_moves_at_the_tilt(e, t):
    # Hopf–Lax of Lbar + e y is u(x - e t, t) + e x - e^2 t/2: the shock sits at x = e t, moves at e
    s = shocks_1d(lambda y: double_well(y) + e * y, t, domain=(-4, 4), n=2001)
    assert s.count == 1 and bool(s.lax[0])
    assert s.position[0] == pytest.approx(e * t, abs=1e-6)
    assert s.speed[0] == pytest.approx(e, abs=1e-4)


def test_shock_matches_brute_force_argmin_jump():
    L = lambda y: y**4 / 4 + 0.3 * y**3 - y**2 / 2 + 0.1 * y + 0.1 * np.sin(2 * y)  # noqa: E731
    t = 2.0
    grid = dict(domain=(-4, 4), n=2001)
    s = shocks_1d(L, t, **grid)
    assert s.count == 1
    x = np.linspace(-3, 3, 30001)
    hl = hopf_lax(L, x, t, refine=False, **grid)
    k = int(np.argmax(np.diff(hl.index)))  # the largest jump of the node index
    assert x[k] <= s.position[0] <= x[k + 1]
    assert hl.argmin[k] == pytest.approx(s.y_left[0], abs=8 / 2000)
    assert hl.argmin[k + 1] == pytest.approx(s.y_right[0], abs=8 / 2000)
    # away from the shock the index moves by at most one node per x step (no other jump)
    jumps = np.diff(hl.index)
    assert np.sum(jumps > 1) == 1 and np.all(jumps >= 0)


def test_first_shock_time_double_well_and_convex():
    times = np.round(np.arange(0.5, 1.5001, 0.01), 10)
    fs = first_shock_time(double_well, times, domain=(-3, 3), n=1201)
    assert fs.time == pytest.approx(1.01) and not fs.detected[times <= 1.0].any()
    assert fs.detected[times > 1.0].all()  # once formed the shock persists
    assert fs.shocks is not None and "first shock" in fs.message
    short = first_shock_time(double_well, times, domain=(-3, 3), n=1201, stop_at_first=True)
    assert short.time == fs.time and short.detected.sum() == 1
    for L in (lambda y: (y - 0.3) ** 2 / 2, lambda y: y**4 / 4 + 0.2 * y, lambda y: np.cosh(y)):
        none = first_shock_time(L, np.geomspace(0.01, 1e3, 20), domain=(-3, 3), n=601)
        assert np.isinf(none.time) and none.shocks is None
        assert np.isinf(predicted_shock_time(L, domain=(-3, 3), n=601).t_star)


def test_marginal_cases_are_not_shocks():
    # at t = t0, Lbar = -y^2/(2 t0) makes g exactly linear: collinear points, no jump
    t0 = 0.7
    assert shocks_1d(lambda y: -(y**2) / (2 * t0), t0, domain=(-1, 1), n=201).count == 0
    assert shocks_1d(lambda y: -(y**2) / (2 * t0), 1.01 * t0, domain=(-1, 1), n=201).count == 1
    # linear loss: straight characteristics, never a shock; t* = inf
    assert shocks_1d(lambda y: 3 * y, 100.0, domain=(-1, 1), n=51).count == 0
    assert np.isinf(first_crossing_time(lambda y: 3 + 0 * y, domain=(-1, 1), n=51)[0])


@pytest.mark.parametrize(
    "call, exc, text",
    [
        (lambda: shocks_1d(double_well, 0.0, domain=(-1, 1), n=11), ValueError, "t = 0.0"),
        (lambda: shocks_1d(double_well, 1.0, domain=(-1, 1), n=11, min_skip=0), ValueError, "min_skip"),
        (lambda: first_shock_time(double_well, [1.0, 0.5], domain=(-1, 1), n=11), ValueError, "increasing"),
        (lambda: first_shock_time(double_well, [0.0, 0.5], domain=(-1, 1), n=11), ValueError, "> 0"),
        (lambda: predicted_shock_time(domain=(-1, 1), n=11), ValueError, "give Lbar"),
        (lambda: predicted_shock_time(hessian=lambda y: np.nan * y, domain=(-1, 1), n=11), ValueError, "finite"),
        (lambda: shocks_1d(lambda a, b: a, 1.0, domain=((-1, 1), (-1, 1)), n=5), ValueError, "1-D grid"),
        (lambda: first_crossing_time(lambda y: np.ones(3), domain=(-1, 1), n=11), ValueError, "shape"),
        (lambda: characteristics(lambda y: np.inf * y, np.ones(3), 1.0), ValueError, "non-finite"),
        (lambda: characteristics("grad", np.ones(3), 1.0), TypeError, "callable"),
        (lambda: characteristics(lambda y: y, np.ones(3), -1.0), ValueError, "t = -1.0"),
    ],
)
def test_bad_input(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_quotient_vs_raw():
    s, R = 1.3, 2.0
    quad = quotient_vs_raw(lambda x: (x - s) ** 2 / 2, s, 0.05, 0.05, box=R, n_box=41)
    r_in = R - 2 * R / 40
    assert np.isinf(quad.t_star_quotient) and np.isinf(quad.first_shock_quotient)
    assert quad.t_star_raw == pytest.approx(1 / (r_in**2 + s), rel=1e-10)
    assert abs(quad.raw_location[0]) == pytest.approx(r_in)
    assert quad.raw_location[0] == pytest.approx(-quad.raw_location[1])  # the corner w1 = -w2 (s > 0)
    assert quad.balanced_is_min and quad.converged
    assert np.all(np.diff(quad.fiber_u[quad.tau >= 0]) > 0)  # grows away from the balanced point
    dw = quotient_vs_raw(double_well, -1.0, 0.05, 0.05, box=R, n_box=41, hessian=lambda x: 3 * x**2 - 1)
    assert dw.t_star_quotient == 1.0 and 1.0 < dw.first_shock_quotient <= 1.0 + 3 / 149
    assert dw.t_star_raw < 0.1 and dw.balanced_is_min  # the raw box shocks much earlier
    with pytest.raises(ValueError, match="x0"):
        quotient_vs_raw(double_well, 0.0, 0.05, 0.05)
