"""Linear-network noise equilibria (docs/math section 6.2): closed forms against the orbit root find and
against per-sample loops, and the seeded SGD/GD simulations."""

import numpy as np
import pytest
import scipy.linalg

from dln_git.core import end_to_end, haar_orthonormal, moment_map
from dln_git.symmetries.linear_noise_models import (
    dln_layer_symmetry,
    equilibrium_mismatch,
    equilibrium_sides,
    layer_noise_imbalance,
    product_dataset,
    scalar_equilibrium,
    scalar_model_symmetry,
    symmetric_log,
    two_layer_equilibrium,
    two_layer_equilibrium_factorisation,
)
from dln_git.symmetries.noise_equilibria import orbit_equilibrium
from dln_git.symmetries.sgd_noise_sim import LabelNoiseTask, off_equilibrium_start, simulate_label_noise


@pytest.mark.parametrize("u,w", [(2.0, 0.3), (-1e-3, 5.0), (40.0, -0.02)])
def test_scalar_root_matches_closed_form(u, w):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(7)
    y = 0.5 * x + 0.2 * rng.standard_normal(7)
    sym, th = scalar_model_symmetry(x, y, u, w)
    r = orbit_equilibrium(sym, th)
    assert r.converged, r.message
    us, ws = scalar_equilibrium(u, w)
    assert abs(us) == pytest.approx(np.sqrt(abs(u * w)), rel=1e-12)
    assert r.theta == pytest.approx([us, ws], rel=1e-10)
    # tr(A Sigma) = 4 (w^2 - u^2) Var(r x) by hand
    rr = u * w * x - y
    G = sym.grads(th)
    assert np.var(G[:, 0]) - np.var(G[:, 1]) == pytest.approx(4 * (w**2 - u**2) * np.var(rr * x), rel=1e-10)


def _loop_imbalance(W, Xd, Yd, i):
    """Per-sample loop: G_j = 2 (W_N..W_{j+1})^T r (W_{j-1}..W_1 x)^T, centred second moments."""
    N = len(W)

    def prod(mats, d):
        out = np.eye(d)
        for m in mats:
            out = m @ out
        return out

    Gi, Gn = [], []
    for k in range(Xd.shape[1]):
        r = end_to_end(W) @ Xd[:, k] - Yd[:, k]
        for j, store in ((i, Gi), (i + 1, Gn)):
            back = prod(W[j:], W[j].shape[1]) if j < N else np.eye(W[-1].shape[0])
            fwd = prod(W[:j - 1], W[0].shape[1])
            store.append(2 * np.outer(back.T @ r, fwd @ Xd[:, k]))
    Gi, Gn = np.array(Gi), np.array(Gn)
    Gi, Gn = Gi - Gi.mean(0), Gn - Gn.mean(0)
    return sum(g @ g.T for g in Gi) / len(Gi) - sum(g.T @ g for g in Gn) / len(Gn)


@pytest.mark.parametrize("widths", [(3, 2, 3), (2, 3, 2, 3), (3, 4, 2, 3, 2)])
def test_layer_relation_at_an_exact_minimum(widths):
    rng = np.random.default_rng(sum(widths))
    W = tuple(rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1))
    Xd, Yd, Sx, Se = product_dataset(rng.standard_normal((widths[0], 5)), rng.standard_normal((widths[-1], 4)),
                                     end_to_end(W))
    for i in range(1, len(W)):
        M = layer_noise_imbalance(W, Xd, Yd, i)
        assert np.allclose(M, _loop_imbalance(W, Xd, Yd, i), atol=1e-12 * np.abs(M).max())
        f, b = equilibrium_sides(W, Sx, Se, i)
        assert np.allclose(M, 4 * (b - f), atol=1e-12 * (np.abs(f).max() + np.abs(b).max()))
    # away from the minimum (non-realizable labels) the factorised form is wrong: the derivation's assumption
    Ynoisy = Yd + rng.standard_normal(Yd.shape)
    M = layer_noise_imbalance(W, Xd, Ynoisy, 1)
    f, b = equilibrium_sides(W, Sx, Se, 1)
    assert np.linalg.norm(M - 4 * (b - f)) > 1e-3 * np.linalg.norm(M)


def test_two_layer_equilibrium_is_a_reweighted_balanced_point_and_the_orbit_root():
    rng = np.random.default_rng(3)
    dx, d, dy = 4, 2, 3
    V = (haar_orthonormal(dy, d, rng) * [1.5, 0.7]) @ haar_orthonormal(dx, d, rng).T
    Xd, Yd, Sx, Se = product_dataset(rng.standard_normal((dx, 7)) * [[0.5], [1], [2], [1]],
                                     rng.standard_normal((dy, 6)), V)
    Ws, Us = two_layer_equilibrium_factorisation(V, d, Sx, Se, rng=1)
    assert np.allclose(Us @ Ws, V)
    lhs, rhs = np.trace(Se) * Ws @ Sx @ Ws.T, np.trace(Sx) * Us.T @ Se @ Us
    assert np.allclose(lhs, rhs, atol=1e-12 * np.abs(rhs).max())
    # minimiser of the reweighted regulariser on the GL(2) orbit: compare with a dense grid of symmetric moves
    def reg(g):
        W, U = g @ Ws, Us @ np.linalg.inv(g)
        Re, Rx = scipy.linalg.sqrtm(Se), scipy.linalg.sqrtm(Sx)
        return np.trace(Sx) * np.sum((Re @ U) ** 2) + np.trace(Se) * np.sum((W @ Rx) ** 2)
    base = reg(np.eye(d))
    for _ in range(30):
        B = rng.standard_normal((d, d))
        assert reg(scipy.linalg.expm(0.3 * (B + B.T))) >= base * (1 - 1e-12)
    # from a moved point: closed form on the orbit, and the 1-D root find along log g
    g0 = scipy.linalg.expm(np.array([[0.5, 0.2], [0.2, -0.3]]))
    W0, U0 = g0 @ Ws, Us @ np.linalg.inv(g0)
    W1, U1, g = two_layer_equilibrium(W0, U0, Sx, Se)
    assert equilibrium_mismatch((W1, U1), Sx, Se)[0] < 1e-12
    assert np.allclose(g, g.T) and np.linalg.eigvalsh(g).min() > 0
    sym, th = dln_layer_symmetry((W0, U0), Xd, Yd, 1, symmetric_log(g))
    r = orbit_equilibrium(sym, th)
    assert r.converged and r.s == pytest.approx(1.0, abs=1e-10)
    assert np.allclose(r.theta, np.concatenate([W1.ravel(), U1.ravel()]), atol=1e-10)


def _task(rng, widths):
    r = min(widths)
    V = (haar_orthonormal(widths[-1], r, rng) * rng.uniform(0.8, 1.5, r)) @ haar_orthonormal(widths[0], r, rng).T
    return LabelNoiseTask(V, np.eye(widths[0]), 0.5 * np.eye(widths[-1]))


def test_gd_keeps_mu_and_mismatch_sgd_reduces_it():
    rng = np.random.default_rng(11)
    task = _task(rng, (3, 2, 3))
    W0 = off_equilibrium_start(task, (3, 2, 3), rng, target=1.6)
    assert equilibrium_mismatch(W0, task.Sigma_x, task.Sigma_e)[0] == pytest.approx(1.6, rel=0.05)
    gd = simulate_label_noise(task, W0, eta=0.05, steps=500, method="gd", record_every=100)
    assert gd.identity_defect < 1e-13
    assert abs(gd.mismatch[-1, 0] - gd.mismatch[0, 0]) < 0.05
    mu0, mu1 = moment_map(W0)[0], moment_map(gd.W)[0]
    assert np.linalg.norm(mu1 - mu0) < 1e-2 * np.linalg.norm(mu0)
    assert gd.excess_loss[-1] < 1e-3 * gd.excess_loss[0] + 1e-12
    sgd = simulate_label_noise(task, W0, eta=0.05, steps=3000, batch=10, seed=5, record_every=100)
    again = simulate_label_noise(task, W0, eta=0.05, steps=3000, batch=10, seed=5, record_every=100)
    assert np.array_equal(sgd.W[0], again.W[0])
    assert sgd.identity_defect < 1e-13
    assert sgd.tail_mismatch()[0] < 0.3 < 1.5 < sgd.mismatch[0, 0]


def test_simulation_validation_and_divergence():
    rng = np.random.default_rng(0)
    task = _task(rng, (2, 2, 2))
    W0 = off_equilibrium_start(task, (2, 2, 2), rng)
    with pytest.raises(ValueError, match="method"):
        simulate_label_noise(task, W0, eta=0.1, steps=3, method="adam")
    with pytest.raises(ValueError, match="eta"):
        simulate_label_noise(task, W0, eta=0.0, steps=3)
    with pytest.raises(ValueError, match="V has shape"):
        simulate_label_noise(task, (np.ones((2, 3)), np.ones((2, 2))), eta=0.1, steps=3)
    with pytest.raises(ValueError, match="positive semi-definite"):
        LabelNoiseTask(np.eye(2), -np.eye(2), np.eye(2))
    with np.errstate(all="ignore"):
        r = simulate_label_noise(task, W0, eta=50.0, steps=200, method="gd")
    assert not r.finite and "diverged" in r.message
