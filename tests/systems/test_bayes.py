"""Bayesian readings (docs/math section 5): MAP balanced, the induced prior on X, the Laplace limit.

References are independent of the code under test: singular value soft-thresholding (N = 2 MAP),
the Bessel closed form against fiber quadrature, the conditional-Gaussian CDF of a product
``P(w_1 w_2 <= x) = E Phi(x sqrt(lam) / |w_1|)`` by quadrature, a convolution of the N = 2
density for N = 3, and the K_0 asymptotic series. Statistical tests state alpha; seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from hypothesis import given, settings

from dln_git.decomposition import LinearRegression, MatrixSensing, SquaredDistance
from dln_git.systems.bayes import (
    balance_ratio,
    laplace_density,
    laplace_log_density,
    laplace_ratio,
    map_estimate,
    product_prior_cdf,
    product_prior_density,
    product_prior_log_density,
    product_prior_test,
    sample_product_prior,
    scalar_fiber_density,
)
from dln_git.testing.strategies import degenerate_weights, rescaled_weights


def _ratio_numpy(W):
    mu = [W[i] @ W[i].conj().T - W[i + 1].conj().T @ W[i + 1] for i in range(len(W) - 1)]
    return np.sqrt(sum(np.linalg.norm(m) ** 2 for m in mu)) / sum(np.linalg.norm(w) ** 2 for w in W)


# --- balance ratio ------------------------------------------------------------------------------


@settings(deadline=None, max_examples=15)
@given(rescaled_weights((3, 2, 4, 2)))
def test_balance_ratio_is_scale_free(pair):
    cW, c = pair
    assert balance_ratio(cW) == pytest.approx(_ratio_numpy([w / c for w in cW]), rel=1e-12)


@settings(deadline=None, max_examples=15)
@given(degenerate_weights((2, 3, 2)))
def test_balance_ratio_on_degenerate_weights(W):
    r = balance_ratio(W)
    assert np.isfinite(r) and 0.0 <= r <= 1.0 + 1e-12  # ||mu|| <= sum ||W_i||^2 for N = 2


# --- MAP ----------------------------------------------------------------------------------------


def test_map_matches_soft_thresholding_and_is_balanced():
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((3, 4))
    s = np.linalg.svd(Y, compute_uv=False)
    lam = float(s[1] + s[2]) / 2  # two singular values survive the threshold, one does not
    res = map_estimate(SquaredDistance(Y), (4, 3, 3), lam, rng, starts=5, rtol=1e-8)
    assert res.converged, res.message
    exact = 0.5 * np.sum(np.minimum(s, lam) ** 2) + lam * np.sum(np.maximum(s - lam, 0.0))
    np.testing.assert_allclose(res.objectives, exact, rtol=1e-12)
    X = res.weights[1] @ res.weights[0]
    np.testing.assert_allclose(np.linalg.svd(X, compute_uv=False), np.maximum(s - lam, 0.0), atol=1e-7)
    assert res.balance_ratios.max() <= 4e-8  # 4 rtol, see bayes.map_balanced
    np.testing.assert_allclose(res.mu_bounds, res.balance_ratios, rtol=1e-6, atol=1e-15)


def test_map_deep_regression_balanced_every_start():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 40))
    B = rng.standard_normal((2, 3)) @ A
    res = map_estimate(LinearRegression(A, B), (3, 4, 3, 2), 0.05, rng, starts=4, rtol=1e-7)
    assert res.converged and res.converged_starts.all()
    assert res.balance_ratios.max() <= 4e-7
    assert res.balance_ratio == pytest.approx(_ratio_numpy(res.weights), rel=1e-10, abs=1e-16)


def test_map_reports_unconverged_starts():
    rng = np.random.default_rng(5)
    res = map_estimate(SquaredDistance(rng.standard_normal((3, 3))), (3, 3, 3), 0.1, rng, starts=2, maxiter=2)
    assert not res.converged and "did not converge" in res.message
    assert np.all(np.isfinite(res.objectives))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"lam": 0.0}, ValueError, "lam"), ({"lam": -1.0}, ValueError, "lam"), ({"starts": 0}, ValueError, "starts"),
     ({"rtol": 2.0}, ValueError, "rtol"), ({"data_weight": float("nan")}, ValueError, "data_weight"),
     ({"starts": 1.5}, TypeError, "starts")],
)
def test_map_options_are_validated(kwargs, error, match):
    args = {"lam": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        map_estimate(SquaredDistance(np.eye(2)), (2, 2, 2), args.pop("lam"), 0, **args)


def test_map_rejects_mismatched_loss():
    with pytest.raises(ValueError, match="shape"):
        map_estimate(SquaredDistance(np.eye(2)), (3, 2, 2), 0.1, 0)


# --- the induced prior on X ---------------------------------------------------------------------


def _cdf_by_conditioning(x, lam):
    """``P(w_1 w_2 <= x) = 2 int_0^inf Phi(x / (u sigma)) phi_sigma(u) du``, sigma^2 = 1/lam."""
    sigma = 1 / np.sqrt(lam)
    f = lambda u: scipy.stats.norm.cdf(x / (u * sigma)) * scipy.stats.norm.pdf(u, scale=sigma)  # noqa: E731
    return 2 * scipy.integrate.quad(f, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize("lam", [0.3, 1.0, 7.0])
def test_density_cdf_and_fiber_quadrature_agree(lam):
    for x in (-2.0 / lam, 0.01 / lam, 0.4 / lam, 3.0 / lam):
        assert product_prior_cdf(x, lam) == pytest.approx(_cdf_by_conditioning(x, lam), abs=1e-10)
        assert scalar_fiber_density(x, lam) == pytest.approx(product_prior_density(x, lam), rel=1e-10)
        assert product_prior_log_density(x, lam) == pytest.approx(np.log(product_prior_density(x, lam)), rel=1e-12)
    # the density integrates to the CDF (quad copes with the integrable log singularity at 0)
    half = scipy.integrate.quad(lambda t: product_prior_density(t, lam), 0, 1.5 / lam, limit=200)[0]
    assert 0.5 + half == pytest.approx(product_prior_cdf(1.5 / lam, lam), abs=1e-8)


def test_log_density_has_no_underflow():
    assert product_prior_density(1000.0, 1.0) == 0.0  # K_0(1000) underflows
    expected = np.log(1 / np.pi) + np.log(np.sqrt(np.pi / 2000.0) * (1 - 1 / 8000.0)) - 1000.0
    assert product_prior_log_density(1000.0, 1.0) == pytest.approx(expected, abs=1e-6)


def test_monte_carlo_ks_accepts_exact_and_rejects_trace_formula():
    # alpha = 1e-6: under the exact law the fixed-seed test fails with probability 1e-6
    res = product_prior_test(2.5, 50000, np.random.default_rng(11), alpha=1e-6)
    assert res.accepted and res.rejects_trace
    # and the KS test has power against a 10 % error in the precision of the law
    x = sample_product_prior(2.5, 50000, np.random.default_rng(12))
    assert scipy.stats.kstest(x, lambda t: product_prior_cdf(t, 2.5 * 1.1)).pvalue < 1e-6


def test_depth_three_density_against_convolution_and_monte_carlo():
    lam = 1.7
    phi = scipy.stats.norm(scale=1 / np.sqrt(lam)).pdf
    for x in (0.05, 0.6, 2.5):
        # p_3(x) = int p_2(x / w) phi(w) / |w| dw with p_2 the Bessel closed form
        conv = 2 * scipy.integrate.quad(lambda w, x=x: product_prior_density(x / w, lam) * phi(w) / w, 0, np.inf,
                                        limit=400, epsrel=1e-11)[0]
        assert scalar_fiber_density(x, lam, 3) == pytest.approx(conv, rel=1e-7)

    # Monte Carlo against P(|w1 w2 w3| <= a) = E[2 F_2(a / |w3|) - 1] (N = 2 CDF, quadrature over w3):
    # chi-square on 9 bins of 20000 draws, fixed seed, alpha = 1e-6
    def cdf_abs(a):
        g = lambda w: (2 * product_prior_cdf(a / w, lam) - 1) * 2 * phi(w)  # noqa: E731
        return scipy.integrate.quad(g, 0, np.inf, limit=200, epsrel=1e-10)[0]

    edges = np.array([0.0, 0.01, 0.03, 0.07, 0.15, 0.3, 0.6, 1.2, 2.5, np.inf])
    probs = np.diff([0.0, *(cdf_abs(a) for a in edges[1:-1]), 1.0])
    draws = np.abs(sample_product_prior(lam, 20000, np.random.default_rng(13), depth=3))
    counts = np.histogram(draws, edges)[0]
    assert scipy.stats.chisquare(counts, probs * draws.size).pvalue >= 1e-6
    # power: the same draws reject the N = 2 law of the same precision
    probs2 = np.diff(2 * product_prior_cdf(np.append(edges[:-1], 1e300), lam) - 1)
    assert scipy.stats.chisquare(counts, probs2 * draws.size).pvalue < 1e-6


# --- the Laplace limit --------------------------------------------------------------------------


@pytest.mark.parametrize("z", [3.0, 30.0, 300.0])
def test_laplace_ratio_n2_matches_bessel_series(z):
    # p/p_L = sqrt(2z/pi) e^z K_0(z), and the K_0 series encloses its remainder:
    # 1 - 1/(8z) <= p/p_L <= 1 - 1/(8z) + 9/(128 z^2)
    r = laplace_ratio(z, 2)
    assert r == pytest.approx(np.sqrt(2 * z / np.pi) * scipy.special.k0e(z), rel=1e-10)
    assert 1 - 1 / (8 * z) <= r <= 1 - 1 / (8 * z) + 9 / (128 * z**2)


def test_laplace_limit_leading_exponent_is_min_regularizer():
    # -(1/lam) log p(x) -> |x| = min R on the fiber: from p_L, lam (-(1/lam) log p - |x|)
    # = -(1/2) log lam + (1/2) log(2 pi |x|) - log(p / p_L), and log(p / p_L) = O(1/(8z))
    x = 0.8
    for lam in (1e2, 1e4, 1e6):
        gap = -product_prior_log_density(x, lam) / lam - x
        rest = lam * gap + 0.5 * np.log(lam) - 0.5 * np.log(2 * np.pi * x)
        assert abs(rest) <= 1.1 / (8 * lam * x)
        assert abs(gap) <= np.log(lam) / lam
    assert laplace_density(x, 1e4) == 0.0  # underflows; the log form does not
    assert laplace_log_density(x, 1e4) == pytest.approx(product_prior_log_density(x, 1e4), abs=2e-5)  # 1/(8z)


def test_laplace_ratio_n3_coefficient():
    # 1 - p/p_L = c_3 / z + O(z^-2), c_3 = (3^2 - 1)/(12 * 3) = 2/9 (second-order Laplace expansion)
    z1, z2 = 150.0, 600.0
    c1, c2 = (z * (1 - laplace_ratio(z, 3)) for z in (z1, z2))
    assert abs(c2 - 2 / 9) < abs(c1 - 2 / 9) < 2e-3
    assert abs(c2 - 2 / 9) < 5e-4


def test_prior_options_are_validated():
    with pytest.raises(ValueError, match="lam"):
        product_prior_density(1.0, 0.0)
    with pytest.raises(ValueError, match="depth"):
        laplace_ratio(10.0, 4)
    with pytest.raises(ValueError, match="nonzero"):
        scalar_fiber_density(0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        product_prior_cdf(np.nan, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        product_prior_test(1.0, 100, 0, alpha=0.0)


def test_gaussian_likelihood_rejects_non_gaussian_losses():
    from dln_git.systems.bayes_mala import gaussian_likelihood

    rng = np.random.default_rng(6)
    A = rng.standard_normal((3, 10))
    B = rng.standard_normal((2, 10))
    E0, G0, M = gaussian_likelihood(LinearRegression(A, B), (2, 3))
    np.testing.assert_allclose(M, A @ A.T / 10, rtol=1e-12)
    np.testing.assert_allclose(G0, -B @ A.T / 10, rtol=1e-12)
    assert E0 == pytest.approx(0.5 * np.sum(B**2) / 10)
    quartic = lambda X: (0.25 * np.sum(X**4), X**3)  # noqa: E731
    with pytest.raises(ValueError, match="Gaussian likelihood"):
        gaussian_likelihood(quartic, (2, 3))
    sensing = MatrixSensing(rng.standard_normal((5, 2, 3)), rng.standard_normal(5))
    with pytest.raises(ValueError, match="Gaussian likelihood"):
        gaussian_likelihood(sensing, (2, 3))


def test_map_snaps_to_the_stationary_point_at_zero():
    # for N >= 3, R dominates near W = 0, so W = 0 is a local minimum; with a strong prior it is
    # the only stationary point (f >= 1/2 ||Y||^2 - ||Y|| ||X|| + lam R and ||X|| <= (2R/3)^{3/2})
    rng = np.random.default_rng(8)
    Y = rng.standard_normal((2, 2))
    res = map_estimate(SquaredDistance(Y), (2, 2, 2, 2), 5 * np.linalg.norm(Y), rng, starts=2)
    assert res.converged, res.message
    assert all(np.all(w == 0) for w in res.weights) and res.balance_ratio == 0.0
    np.testing.assert_allclose(res.objectives, 0.5 * np.sum(Y**2), rtol=1e-15)
