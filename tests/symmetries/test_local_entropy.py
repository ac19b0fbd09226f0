"""Cole–Hopf local entropy, its Gibbs-mean gradient, the viscous residuals and the Hopf–Lax limit.

References used (independent of the code paths under test): the closed-form Cole–Hopf solution of
a quadratic loss, ``u = 1/2 (x-c)^T A (I + tA)^{-1} (x-c) + nu log det(I + tA)`` (a Gaussian
convolution; derived by hand and checked against sympy's HJ residual below), scipy's adaptive
quadrature, scipy's scalar minimiser, and Laplace's method for the nu -> 0 rate.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize

from dln_git.symmetries.local_entropy import hopf_lax, local_entropy, quadrature_grid
from dln_git.symmetries.viscous_residuals import viscous_residuals


def double_well(y):
    return (y**2 - 1) ** 2 / 4


def quadratic_closed_form(A, c, x, t, nu):
    """Cole–Hopf solution and gradient of Lbar(y) = 1/2 (y-c)^T A (y-c); x has shape (d, m)."""
    d = A.shape[0]
    M = np.eye(d) + t * A
    D = x - c[:, None]
    B = A @ np.linalg.inv(M)
    u0 = 0.5 * np.einsum("im,ij,jm->m", D, B, D)
    return u0 + nu * np.log(np.linalg.det(M)), B @ D, u0


def test_closed_form_solves_viscous_hj_symbolically():
    # the reference itself: the quadratic closed form solves u_t + u_x^2/2 = nu u_xx, and the
    # variance-(nu t) misreading of the heat kernel (log term halved) does not
    x, t, a, nu = sp.symbols("x t a nu", positive=True)
    for coef, zero in ((1, True), (sp.Rational(1, 2), False)):
        u = a * x**2 / (2 * (1 + a * t)) + coef * nu * sp.log(1 + a * t)
        res = sp.simplify(sp.diff(u, t) + sp.diff(u, x) ** 2 / 2 - nu * sp.diff(u, x, 2))
        assert (res == 0) is zero


@given(
    a=st.floats(-0.9, 3.0), c=st.floats(-1.0, 1.0), t=st.floats(0.05, 1.0), nu=st.floats(0.01, 1.0),
)
def test_quadratic_1d_exact(a, c, t, nu):
    # a < 0 is allowed while 1 + a t > 0 (the integral converges): concave losses included
    x = np.linspace(-1.0, 1.0, 9)
    width = np.sqrt(2 * nu * t)
    # the Gibbs measure is a Gaussian of variance 2 nu t / (1 + a t) around c + (x - c)/(1 + a t)
    spread = width / np.sqrt(1 + a * t)
    half = 3 + 12 * spread + 2 / (1 + a * t)
    n = int(np.ceil(2 * half / (0.3 * spread))) + 1
    r = local_entropy(lambda y: a * (y - c) ** 2 / 2, x, t, nu, domain=(c - half, c + half), n=n)
    u, p, _ = quadratic_closed_form(np.array([[a]]), np.array([c]), x[None, :], t, nu)
    assert r.converged, r.message
    scale = 1 + np.max(np.abs(u))
    np.testing.assert_allclose(r.u, u, atol=1e-11 * scale)
    np.testing.assert_allclose(r.p, p[0], atol=1e-10 * (1 + np.max(np.abs(p))))


def test_quadratic_2d_exact_indefinite():
    rng = np.random.default_rng(3)
    for _ in range(3):
        Q = rng.standard_normal((2, 2))
        A = (Q + Q.T) / 2  # indefinite in general
        t = 0.5 / max(1.0, -np.linalg.eigvalsh(A)[0])  # I + tA >= I/2
        c, nu = rng.uniform(-0.5, 0.5, 2), rng.uniform(0.05, 0.3)
        x = rng.uniform(-1, 1, (2, 5))
        L = lambda a, b, A=A, c=c: 0.5 * (A[0, 0] * (a - c[0]) ** 2 + 2 * A[0, 1] * (a - c[0]) * (b - c[1])  # noqa: E731
                                            + A[1, 1] * (b - c[1]) ** 2)
        r = local_entropy(L, (x[0], x[1]), t, nu, domain=((-9, 9), (-9, 9)), n=301)
        u, p, _ = quadratic_closed_form(A, c, x, t, nu)
        assert r.converged, r.message
        np.testing.assert_allclose(r.u, u, atol=1e-10)
        np.testing.assert_allclose(r.p, p, atol=1e-10)
        # the 2-D layout with a leading axis works the same
        r2 = local_entropy(L, x, t, nu, domain=((-9, 9), (-9, 9)), n=301)
        np.testing.assert_array_equal(r2.u, r.u)


def test_against_scipy_quadrature_double_well():
    nu, t = 0.15, 0.7
    for x in (-1.3, -0.2, 0.0, 0.9):
        def integrand(y, x=x):
            return np.exp(-(x - y) ** 2 / (4 * nu * t) - double_well(y) / (2 * nu)) / np.sqrt(4 * np.pi * nu * t)
        Z = integrate.quad(integrand, -10, 10, epsabs=0, epsrel=1e-12, limit=200, points=[x])[0]
        M = integrate.quad(lambda y: y * integrand(y), -10, 10, epsabs=1e-15, epsrel=1e-12, limit=200, points=[x])[0]
        r = local_entropy(double_well, np.array([x]), t, nu, domain=(-6, 6), n=1201)
        assert r.converged
        assert r.u[0] == pytest.approx(-2 * nu * np.log(Z), abs=1e-11)
        assert r.mean[0] == pytest.approx(M / Z, abs=1e-10)
        assert r.p[0] == pytest.approx((x - M / Z) / t, abs=1e-9)


def test_huge_exponents_are_stable_and_constants_shift_u():
    # exp(-Lbar / (2 nu)) underflows at nu = 1e-4 (exponents ~ -1e8): the log-sum-exp must not
    x = np.linspace(-1, 1, 7)
    base = local_entropy(double_well, x, 0.5, 1e-4, domain=(-2.5, 2.5), n=20001)
    shifted = local_entropy(lambda y: double_well(y) + 1e4, x, 0.5, 1e-4, domain=(-2.5, 2.5), n=20001)
    assert np.all(np.isfinite(base.u)) and np.all(np.isfinite(shifted.p))
    np.testing.assert_allclose(shifted.u - base.u, 1e4, rtol=0, atol=1e-9)
    # Lbar + 1e4 itself carries rounding 1e4 eps, i.e. 1e4 eps / (2 nu) = 1e-8 in the exponent
    np.testing.assert_allclose(shifted.p, base.p, atol=1e-7)
    # and it is already within O(nu) of Hopf–Lax
    hl = hopf_lax(double_well, x, 0.5, domain=(-2.5, 2.5), n=20001)
    assert np.max(np.abs(base.u - hl.u)) < 10 * 1e-4


def test_time_zero_returns_the_loss():
    x = np.linspace(-2, 2, 5)
    r = local_entropy(double_well, x, 0.0, 0.3, domain=(-3, 3), n=11)
    np.testing.assert_array_equal(r.u, double_well(x))
    assert np.all(np.isnan(r.p)) and r.converged
    r = local_entropy(double_well, x, 0, 0.3, domain=(-3, 3), n=11, grad_Lbar=lambda y: y**3 - y)
    np.testing.assert_array_equal(r.p, x**3 - x)


def test_convergence_flags_and_no_shared_memory():
    x = np.linspace(-1, 1, 5)
    coarse = local_entropy(double_well, x, 0.1, 0.01, domain=(-3, 3), n=21)
    assert not coarse.converged and "refine" in coarse.message
    small_box = local_entropy(double_well, x, 1.0, 1.0, domain=(-1.2, 1.2), n=401)
    assert not small_box.converged and "enlarge" in small_box.message
    r = local_entropy(double_well, x, 0.5, 0.2, domain=(-5, 5), n=801)
    assert r.converged and not np.shares_memory(r.u, x) and not np.shares_memory(r.mean, x)
    x[:] = 0
    assert np.ptp(r.u) > 0


@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        (dict(nu=0.0), ValueError, "nu"),
        (dict(nu=float("nan")), ValueError, "nu"),
        (dict(t=-1.0), ValueError, "t = -1.0"),
        (dict(t="1"), TypeError, "t must be a real"),
        (dict(n=2), ValueError, "n = 2"),
        (dict(n=10.0), TypeError, "n must be an integer"),
        (dict(domain=(1, -1)), ValueError, "a < b"),
        (dict(Lbar=lambda y: np.nan * y), ValueError, "non-finite"),
        (dict(Lbar=lambda y: np.ones(3)), ValueError, "shape"),
        (dict(Lbar=3.0), TypeError, "callable"),
        (dict(x=np.array([np.inf])), ValueError, "x must be finite"),
    ],
)
def test_bad_input(kwargs, exc, text):
    args = dict(Lbar=double_well, x=np.zeros(3), t=0.5, nu=0.2, domain=(-3, 3), n=101)
    args.update(kwargs)
    with pytest.raises(exc, match=text):
        local_entropy(args.pop("Lbar"), args.pop("x"), args.pop("t"), args.pop("nu"), **args)


def test_grid_forms():
    g = quadrature_grid(domain=((-1, 1), (0, 2)), n=(5, 7))
    assert g.shape == (5, 7) and g.dim == 2
    w = np.exp(g.log_weights())
    assert w.sum() == pytest.approx(4.0)  # trapezoid weights integrate 1 exactly over the box
    g1 = quadrature_grid(np.array([0.0, 0.1, 0.5, 1.0]))
    assert np.exp(g1.log_weights()).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="increasing"):
        quadrature_grid(np.array([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match="exactly one"):
        quadrature_grid()


def test_hopf_lax_closed_form_and_brute_force():
    rng = np.random.default_rng(7)
    for d in (1, 2):
        Q = rng.standard_normal((d, d))
        A = Q @ Q.T + 0.1 * np.eye(d)
        c, t = rng.uniform(-0.5, 0.5, d), rng.uniform(0.2, 2.0)
        x = rng.uniform(-1.5, 1.5, (d, 6))
        if d == 1:
            L = lambda y, A=A, c=c: A[0, 0] * (y - c[0]) ** 2 / 2  # noqa: E731
            r = hopf_lax(L, x[0], t, domain=(-4, 4), n=161)
            got_u, got_y = r.u, r.argmin[None]
        else:
            def L(a, b, A=A, c=c):
                return 0.5 * (A[0, 0] * (a - c[0]) ** 2 + 2 * A[0, 1] * (a - c[0]) * (b - c[1])
                              + A[1, 1] * (b - c[1]) ** 2)
            r = hopf_lax(L, x, t, domain=((-4, 4), (-4, 4)), n=81)
            got_u, got_y = r.u, r.argmin
        _, _, u0 = quadratic_closed_form(A, c, x, t, 0.0)
        ystar = c[:, None] + np.linalg.solve(np.eye(d) + t * A, x - c[:, None])
        np.testing.assert_allclose(got_u, u0, atol=1e-12)  # the refinement is exact for quadratics
        np.testing.assert_allclose(got_y, ystar, atol=1e-12)
    # a quartic against scipy's bounded scalar minimiser, each branch searched separately
    t = 0.6
    xs = np.array([-1.0, -0.3, 0.4, 1.2])
    r = hopf_lax(double_well, xs, t, domain=(-3, 3), n=3001)
    for x, u, y in zip(xs, r.u, r.argmin, strict=True):
        f = lambda z, x=x: double_well(z) + (x - z) ** 2 / (2 * t)  # noqa: E731
        best = min((optimize.minimize_scalar(f, bounds=b, method="bounded", options={"xatol": 1e-12})
                    for b in ((-3, 0), (0, 3))), key=lambda o: o.fun)
        assert u == pytest.approx(best.fun, abs=1e-10)
        assert y == pytest.approx(best.x, abs=1e-5)


def test_viscous_limit_rate_and_laplace_term():
    # diffrax-style order test: log max|u_nu - u_0| against log nu has slope 1, and the first-order
    # term is nu log(1 + t Lbar''(y*)) (Laplace); t = 0.5 < t* = 1 keeps the minimiser unique
    t, x = 0.5, np.linspace(-1.5, 1.5, 13)
    hl = hopf_lax(double_well, x, t, domain=(-5, 5), n=2001)
    nus = np.array([0.016, 0.008, 0.004, 0.002])
    errs, rem = [], []
    for nu in nus:
        r = local_entropy(double_well, x, t, nu, domain=(-5, 5), n=2001)
        errs.append(np.max(np.abs(r.u - hl.u)))
        rem.append(np.max(np.abs((r.u - hl.u) / nu - np.log1p(t * (3 * hl.argmin**2 - 1)))))
    assert np.polyfit(np.log(nus), np.log(errs), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert np.polyfit(np.log(nus), np.log(rem), 1)[0] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("nu, t", [(0.1, 0.5), (0.05, 1.5), (0.4, 2.0)])
def test_residuals_1d(nu, t):
    r = viscous_residuals(double_well, np.linspace(-1.5, 1.5, 15), t, nu, domain=(-5, 5), n=1601)
    assert r.converged, r.message
    assert r.hj < 1e-6 and r.burgers < 1e-5 and r.gradient_mismatch < 1e-6


def test_residuals_2d_dln_loss():
    L = lambda a, b: (a * b - 1) ** 2 / 2 + 0.05 * (a**2 + b**2)  # noqa: E731
    x = np.random.default_rng(2).uniform(-1, 1, (2, 5))
    r = viscous_residuals(L, x, 0.4, 0.15, domain=((-4.5, 4.5),) * 2, n=71)
    assert r.converged, r.message
    assert r.hj < 1e-5 and r.burgers < 1e-5 and r.gradient_mismatch < 1e-6


def test_residuals_detect_the_variance_misreading(monkeypatch):
    # reading the heat kernel as variance nu t (not 2 nu t) gives exp(-(Lbar + |x-y|^2/t)/(2 nu)),
    # i.e. our u at time t/2: it does not solve the equation, and the residual must say so
    import importlib

    vr = importlib.import_module("dln_git.symmetries.viscous_residuals")  # the module, not the function

    def misread(Lbar, x, t, nu, grid):
        return local_entropy(Lbar, x, t / 2, nu, grid)

    x = np.linspace(-1.5, 1.5, 9)
    good = viscous_residuals(double_well, x, 0.8, 0.1, domain=(-5, 5), n=1601)
    monkeypatch.setattr(vr, "local_entropy", misread)
    bad = viscous_residuals(double_well, x, 0.8, 0.1, domain=(-5, 5), n=1601)
    assert good.hj < 1e-6 and bad.hj > 1e-2 and bad.burgers > 1e-2


def test_viscous_limit_rate_2d():
    # the DLN-type loss with a small ridge: t = 0.3 keeps I + t Hess > 0 on the region the minimisers visit
    L = lambda a, b: (a * b - 1) ** 2 / 2 + 0.15 * (a**2 + b**2)  # noqa: E731
    x = np.random.default_rng(4).uniform(-1, 1, (2, 8))
    grid = dict(domain=((-3.5, 3.5), (-3.5, 3.5)), n=181)
    hl = hopf_lax(L, x, 0.3, **grid)
    nus = np.array([0.04, 0.02, 0.01])
    errs = []
    for nu in nus:
        r = local_entropy(L, x, 0.3, nu, **grid)
        assert r.converged, r.message
        errs.append(np.max(np.abs(r.u - hl.u)))
    assert np.polyfit(np.log(nus), np.log(errs), 1)[0] == pytest.approx(1.0, abs=0.1)
