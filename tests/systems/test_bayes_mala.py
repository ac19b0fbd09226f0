"""MALA on the weights (docs/math section 5): gradients, exactness against closed forms and
quadrature, the concentration trend, diagnostics and options.

Statistical checks use independent chains as batches: the per-chain statistic (a fraction of
draws, a mean) has a chain-to-chain spread that includes the autocorrelation, and a t-test over
chains at a stated two-sided alpha decides. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings

from dln_git.decomposition import LinearRegression, SquaredDistance, loss_value_and_gradient
from dln_git.systems.bayes_mala import (
    _balance_ratios,
    _Target,
    gaussian_likelihood,
    posterior_concentration,
    sample_posterior,
    scalar_posterior_ratio_quantile,
    split_rhat,
)
from dln_git.testing.strategies import unbalanced_weights


def _t_over_chains(per_chain, expected):
    return abs(per_chain.mean() - expected) / (per_chain.std(ddof=1) / np.sqrt(per_chain.size))


def _crit(alpha, chains):
    return scipy.stats.t.ppf(1 - alpha / 2, chains - 1)


def _target(loss, widths, lam, beta):
    return _Target(*gaussian_likelihood(loss, (widths[-1], widths[0])), lam, beta)


def _regression(widths, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((widths[0], 12))
    return LinearRegression(A, rng.standard_normal((widths[-1], 12)))


@settings(deadline=None, max_examples=10)
@given(unbalanced_weights((3, 2, 4, 2), max_exponent=1))
def test_batched_gradient_against_package_gradient_and_noether(W):
    widths, lam, beta = (3, 2, 4, 2), 0.7, 3.0
    loss = _regression(widths, 0)
    logp, grad, _, _ = _target(loss, widths, lam, beta)([w[None] for w in W])
    ref = loss_value_and_gradient(W, loss, lam / beta)  # independent code path (dln_git.decomposition)
    assert -logp[0] == pytest.approx(beta * ref.value, rel=1e-12)
    for g, r in zip(grad, ref.grad, strict=True):
        np.testing.assert_allclose(-g[0], beta * r, rtol=1e-10, atol=1e-12 * np.linalg.norm(r))
    # A_W^*(grad log pi) = -lam mu(W): the data part is horizontal (Noether), mu by its formula
    adj = [grad[i][0] @ W[i].T - W[i + 1].T @ grad[i + 1][0] for i in range(len(W) - 1)]
    mu = [W[i] @ W[i].T - W[i + 1].T @ W[i + 1] for i in range(len(W) - 1)]
    scale = sum(np.linalg.norm(w) ** 2 for w in W) * lam
    for a, m in zip(adj, mu, strict=True):
        np.testing.assert_allclose(a, -lam * m, atol=1e-10 * scale)


def test_batched_gradient_against_finite_differences():
    rng = np.random.default_rng(1)
    widths = (2, 3, 2)
    loss = _regression(widths, 1)
    target = _target(loss, widths, 0.5, 2.0)
    W = [rng.standard_normal((4, widths[i + 1], widths[i])) for i in range(2)]
    _, grad, _, _ = target(W)
    V = [rng.standard_normal(w.shape) for w in W]
    h = 1e-5
    plus = target([w + h * v for w, v in zip(W, V, strict=True)])[0]
    minus = target([w - h * v for w, v in zip(W, V, strict=True)])[0]
    directional = sum(np.einsum("cij,cij->c", g, v) for g, v in zip(grad, V, strict=True))
    np.testing.assert_allclose((plus - minus) / (2 * h), directional, rtol=1e-7)
    R = 0.5 * sum(np.sum(w**2, axis=(1, 2)) for w in W)
    ratios = _balance_ratios(W, R)
    for c in range(4):
        mu = W[0][c] @ W[0][c].T - W[1][c].T @ W[1][c]
        assert ratios[c] == pytest.approx(np.linalg.norm(mu) / (2 * R[c]), rel=1e-12)


def test_depth_one_posterior_is_the_exact_gaussian():
    # N = 1: W = X, pi ∝ exp(-beta/2 ||X - Y||^2 - lam/2 ||X||^2): mean beta Y / (beta + lam),
    # variance 1 / (beta + lam) per entry. t-test over 16 chains, alpha = 1e-5 each.
    Y = np.array([[1.0, -2.0]])
    lam, beta, chains = 3.0, 5.0, 16
    s = sample_posterior(SquaredDistance(Y), (2, 1), lam, np.random.default_rng(2), data_weight=beta,
                         chains=chains, burn_in=300, n_samples=400, record_weights=True)
    X = s.weights[0][:, :, 0, :]  # (draws, chains, 2)
    mean, var = beta * Y[0] / (beta + lam), 1 / (beta + lam)
    crit = _crit(1e-5, chains)
    for j in range(2):
        assert _t_over_chains(X[:, :, j].mean(axis=0), mean[j]) <= crit
        assert _t_over_chains(((X[:, :, j] - mean[j]) ** 2).mean(axis=0), var) <= crit
    assert 0.4 <= s.acceptance_rate <= 0.75
    assert np.all(s.balance_ratios == 0.0)  # no hidden layer, nothing to balance


def test_scalar_posterior_median_and_tail_quantile_match_quadrature():
    y, lam, beta, chains = 2.4, 16.0, 200.0, 32
    s = sample_posterior(SquaredDistance([[y]]), (1, 1, 1), lam, np.random.default_rng(3), data_weight=beta,
                         chains=chains, burn_in=1500, n_samples=400, thin=2)
    crit = _crit(1e-5, chains)
    for q in (0.5, 0.9):
        r = scalar_posterior_ratio_quantile(q, y, lam, beta)
        assert _t_over_chains(np.mean(s.balance_ratios <= r, axis=0), q) <= crit
    assert s.converged, s.message
    # power: the quantile of a 30 % different precision is rejected by the same test
    wrong = scalar_posterior_ratio_quantile(0.5, y, lam * 1.3, beta)
    assert _t_over_chains(np.mean(s.balance_ratios <= wrong, axis=0), 0.5) > crit


def test_scalar_quantile_pinned_limit():
    # beta -> infinity pins x = y: u has density ∝ exp(-z cosh u), z = lam y, and for large z
    # u ~ N(0, 1/z), so the median of |tanh u| -> Phi^{-1}(3/4) / sqrt(z)
    y, lam = 2.0, 5000.0
    r = scalar_posterior_ratio_quantile(0.5, y, lam, 1e8)
    assert r == pytest.approx(scipy.stats.norm.ppf(0.75) / np.sqrt(lam * y), rel=2e-4)


def test_concentration_trend_on_two_by_two_layers():
    rng = np.random.default_rng(4)
    U, V = (np.linalg.qr(rng.standard_normal((2, 2)))[0] for _ in range(2))
    Y = (U * np.array([2.5, 2.0])) @ V.T
    trend = posterior_concentration(SquaredDistance(Y), (2, 2, 2), [4.0, 16.0, 64.0], rng, data_weight=200.0,
                                    chains=16, burn_in=1500, n_samples=300, thin=2)
    assert np.all(np.diff(trend.medians) < 0)
    assert -0.6 <= trend.slope <= -0.4  # predicted -1/2 when the likelihood pins X (see the claim)


def test_split_rhat_detects_unmixed_chains():
    rng = np.random.default_rng(5)
    assert split_rhat(rng.standard_normal((400, 8))) < 1.02
    shifted = rng.standard_normal((400, 8)) + np.arange(8)
    assert split_rhat(shifted) > 1.5


def test_short_burn_in_is_reported_not_converged():
    s = sample_posterior(SquaredDistance([[2.0]]), (1, 1, 1), 2.0, np.random.default_rng(6), data_weight=200.0,
                         chains=8, burn_in=1, n_samples=20, init_spread=1.5)
    assert not s.converged and "R-hat" in s.message


def test_seeded_runs_are_reproducible_and_do_not_alias():
    kwargs = {"data_weight": 10.0, "chains": 3, "burn_in": 20, "n_samples": 5}
    init = (np.array([[1.0]]), np.array([[1.5]]))
    a = sample_posterior(SquaredDistance([[1.0]]), (1, 1, 1), 1.0, 7, init=init, **kwargs)
    b = sample_posterior(SquaredDistance([[1.0]]), (1, 1, 1), 1.0, np.random.default_rng(7), init=init, **kwargs)
    np.testing.assert_array_equal(a.balance_ratios, b.balance_ratios)
    assert init[0][0, 0] == 1.0 and a.last[0] is not init[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"chains": 1}, ValueError, "chains"), ({"lam": 0.0}, ValueError, "lam"), ({"thin": 0}, ValueError, "thin"),
     ({"target_acceptance": 1.0}, ValueError, "target_acceptance"), ({"max_rhat": 1.0}, ValueError, "max_rhat"),
     ({"init": (np.ones((2, 1)), np.ones((1, 2)))}, ValueError, "widths"),
     ({"init": (np.ones((1, 1)) * 1j, np.ones((1, 1)))}, ValueError, "real"),
     ({"record_weights": 1}, TypeError, "record_weights")],
)
def test_sampler_options_are_validated(kwargs, error, match):
    args = {"lam": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        sample_posterior(SquaredDistance([[1.0]]), (1, 1, 1), args.pop("lam"), 0, n_samples=4, burn_in=1, **args)


def test_posterior_concentration_validates_lams():
    with pytest.raises(ValueError, match="lams"):
        posterior_concentration(SquaredDistance([[1.0]]), (1, 1, 1), [1.0])


def test_scalar_quantile_against_dense_grid_in_weights():
    # P(|mu|/2R <= r) by a Riemann sum of exp(-beta/2 (w1 w2 - y)^2 - lam/2 (w1^2 + w2^2)) on a
    # 1601^2 grid over [-6, 6]^2 (the density is below e^{-17} outside); grid error ~1e-4
    y, lam, beta = 1.0, 0.5, 1.0
    w = np.linspace(-6, 6, 1601)
    w1, w2 = np.meshgrid(w, w, indexing="ij")
    dens = np.exp(-beta / 2 * (w1 * w2 - y) ** 2 - lam / 2 * (w1**2 + w2**2))
    ratio = np.abs(w1**2 - w2**2) / np.maximum(w1**2 + w2**2, 1e-300)
    for q in (0.25, 0.5, 0.8):
        r = scalar_posterior_ratio_quantile(q, y, lam, beta)
        assert np.sum(dens[ratio <= r]) / np.sum(dens) == pytest.approx(q, abs=1e-3)
