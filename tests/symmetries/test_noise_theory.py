"""Exponential symmetries and SGD noise (docs/math section 6.2) against independent computations: finite
differences of the loss, brute-force minibatch enumeration, a dense eigen-decomposition of the
orbit function tr(A Sigma(exp(sA) theta))."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.symmetries.linear_noise_models import dln_layer_symmetry, scalar_model_symmetry
from dln_git.symmetries.noise_equilibria import (
    ExponentialSymmetry,
    conserved_quantity,
    expected_step_change,
    gradient_covariance,
    minibatch_factor,
    noether_drift,
    orbit_equilibrium,
    sgd_step_identity,
)


def _problem(seed, widths=(3, 2, 4), layer=1, n=6, scale=1.0):
    rng = np.random.default_rng(seed)
    W = tuple(scale * rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
    Xd, Yd = rng.standard_normal((widths[0], n)), rng.standard_normal((widths[-1], n))
    B = rng.standard_normal((widths[layer], widths[layer]))
    sym, th = dln_layer_symmetry(W, Xd, Yd, layer, B + B.T)
    return sym, th, W, Xd, Yd, rng


def _loss(theta, W, Xd, Yd, k):
    shapes = [w.shape for w in W]
    mats, start = [], 0
    for r, c in shapes:
        mats.append(theta[start:start + r * c].reshape(r, c))
        start += r * c
    X = mats[0]
    for m in mats[1:]:
        X = m @ X
    return float(np.sum((X @ Xd[:, k] - Yd[:, k]) ** 2))


@pytest.mark.parametrize("widths,layer", [((3, 2, 4), 1), ((2, 3, 3, 2), 1), ((2, 3, 3, 2), 2)])
def test_per_sample_gradients_match_finite_differences_and_loss_is_invariant(widths, layer):
    sym, th, W, Xd, Yd, _ = _problem(1, widths, layer)
    G = sym.grads(th)
    h = 1e-6
    for k in range(sym.n_samples):
        fd = np.array([(_loss(th + h * e, W, Xd, Yd, k) - _loss(th - h * e, W, Xd, Yd, k)) / (2 * h)
                       for e in np.eye(th.size)])
        assert np.allclose(G[k], fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
        # the symmetry itself: the loss is constant along exp(sA) theta
        for s in (-0.7, 0.3, 1.1):
            assert _loss(sym.orbit_point(th, s), W, Xd, Yd, k) == pytest.approx(_loss(th, W, Xd, Yd, k), rel=1e-10)
    assert sym.invariance_defect(th) < 1e-13


@given(seed=st.integers(0, 2**31), logscale=st.sampled_from([-3.0, 0.0, 2.0]), lam=st.sampled_from([0.0, 0.05, 0.9]),
       b=st.integers(1, 6))
def test_one_step_identity_direct(seed, logscale, lam, b):
    sym, th, *_ , rng = _problem(seed, scale=10.0**logscale)
    idx = rng.choice(6, size=b, replace=False)
    eta = float(rng.uniform(1e-3, 0.5))
    r = sgd_step_identity(sym, th, idx, eta, weight_decay=lam)
    # independent: form the step by hand from finite-free gradients and the quadratic form
    g = sym.grads(th, idx).mean(axis=0)
    nxt = (1 - eta * lam) * th - eta * g
    assert np.allclose(r.theta_next, nxt)
    assert conserved_quantity(sym, nxt) == pytest.approx(r.C_next, rel=1e-14, abs=1e-300)
    assert r.defect <= 1e-13


def test_minibatch_drift_by_enumeration():
    sym, th, *_ = _problem(4, n=5)
    eta, A = 0.2, sym.A
    for b, replace in ((1, True), (2, True), (3, True), (2, False), (4, False)):
        batches = list(itertools.product(range(5), repeat=b) if replace else itertools.combinations(range(5), b))
        dC = np.mean([sgd_step_identity(sym, th, list(i), eta).C_next - conserved_quantity(sym, th) for i in batches])
        gAg = np.mean([(g := sym.grads(th, list(i)).mean(0)) @ A @ g for i in batches])
        pred = expected_step_change(sym, th, eta, b, replace=replace)
        assert dC == pytest.approx(eta**2 * gAg, rel=1e-11)
        assert pred["total"] == pytest.approx(dC, rel=1e-11)
        # the SDE (Noether) drift is the noise part per unit time; with the mean term it is the full drift
        if replace:
            assert noether_drift(sym, th, eta, b) * eta == pytest.approx(pred["noise_term"], rel=1e-12)
            assert noether_drift(sym, th, eta, b, include_mean=True) * eta == pytest.approx(dC, rel=1e-11)
    assert minibatch_factor(5, 5, replace=False) == 0.0
    assert minibatch_factor(5, 2) == 0.5


def test_covariance_matches_numpy():
    sym, th, *_ = _problem(5)
    gbar, Sigma = gradient_covariance(sym, th)
    G = sym.grads(th)
    assert np.allclose(Sigma, np.cov(G.T, bias=True), atol=1e-12 * np.abs(Sigma).max())
    assert np.allclose(gbar, G.mean(0))


def test_orbit_function_is_the_eigen_sum_and_decreasing():
    sym, th, *_ = _problem(6, widths=(3, 3, 3))
    a, Q = np.linalg.eigh(sym.A)
    _, Sigma0 = gradient_covariance(sym, th)
    S = np.diag(Q.T @ Sigma0 @ Q)
    ss = np.linspace(-1.5, 1.5, 31)
    direct = []
    for s in ss:
        _, Sig = gradient_covariance(sym, sym.orbit_point(th, s))
        direct.append(np.sum(sym.A * Sig))
    dense = [np.sum(a * S * np.exp(-2 * a * s)) for s in ss]
    assert np.allclose(direct, dense, rtol=1e-9, atol=1e-9 * np.max(np.abs(dense)))
    assert np.all(np.diff(dense) <= 0)
    r = orbit_equilibrium(sym, th)
    assert r.converged, r.message
    # the eigen-sum vanishes at s*: an independent root
    assert abs(np.sum(a * S * np.exp(-2 * a * r.s))) <= 1e-10 * np.sum(np.abs(a) * S * np.exp(-2 * a * r.s))


def test_no_equilibrium_reported_honestly():
    # A positive semi-definite on a toy loss l = (theta_1^2 + theta_2^2 - y)^2 (rotation-free: A = I scales,
    # which is NOT a symmetry; use a loss depending on theta_3 only and A = diag(1, 1, 0))
    y = np.array([0.3, -1.0, 2.0])

    def grads(theta, idx):
        r = theta[2] - y[idx]
        return np.stack([0 * r, 0 * r, 2 * r], axis=1)

    sym = ExponentialSymmetry(np.diag([1.0, 1.0, 0.0]), grads, 3)
    r = orbit_equilibrium(sym, np.array([1.0, 2.0, 0.5]))
    assert r.converged and "whole orbit" in r.message  # no noise along A: tr(A Sigma) = 0 everywhere
    sym2, th2 = scalar_model_symmetry([1.0, 2.0], [2.0, 4.0], 1.0, 2.0)  # exact fit: r = 0, no noise
    assert orbit_equilibrium(sym2, th2).converged
    # a scale-invariant loss l_k = (theta_1 / |theta| - y_k)^2 has the symmetry A = I (positive definite):
    # tr(A Sigma) = tr(Sigma) > 0 on every orbit, no equilibrium (SGD grows the norm)
    def grads3(theta, idx):
        nrm = np.linalg.norm(theta)
        u = theta[0] / nrm
        du = (np.eye(theta.size)[0] - u * theta / nrm) / nrm
        return 2 * (u - y[idx])[:, None] * du[None, :]

    sym3 = ExponentialSymmetry(np.eye(2), grads3, 3)
    th3 = np.array([1.0, 0.5])
    assert sym3.invariance_defect(th3) < 1e-15
    r3 = orbit_equilibrium(sym3, th3, max_expansions=12)
    assert not r3.converged and "sign" in r3.message


def test_validation():
    with pytest.raises(ValueError, match="symmetric"):
        ExponentialSymmetry(np.array([[0.0, 1.0], [0.0, 0.0]]), lambda t, i: None, 2)
    with pytest.raises(ValueError, match="NaN"):
        ExponentialSymmetry(np.array([[np.nan]]), lambda t, i: None, 2)
    sym, th, *_ = _problem(2)
    with pytest.raises(ValueError, match="length"):
        conserved_quantity(sym, th[:-1])
    with pytest.raises(ValueError, match="eta"):
        sgd_step_identity(sym, th, [0], -1.0)
    with pytest.raises(ValueError, match="idx"):
        sym.grads(th, [99])
    with pytest.raises(TypeError, match="batch"):
        noether_drift(sym, th, 0.1, 1.5)
