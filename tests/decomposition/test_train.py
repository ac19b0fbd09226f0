"""Training (``dln_git.decomposition.train``): the exact laws of docs/math section 4 along the flow,
GD and SGD, against closed forms, the explicit moment map and the learning flow."""

from __future__ import annotations

import numpy as np
import pytest
from decomp_helpers import balanced_aligned, grad_data, moment, product, tnorm
from hypothesis import given, settings
from hypothesis import strategies as st

from dln_git.decomposition import MatrixCompletion, SquaredDistance, aligned_regression, learning_flow, train
from dln_git.testing import strategies as dst
from dln_git.testing.losses import LOSS_KINDS, random_loss


def _mu_law_error(result, mu0, lam):
    worst = 0.0
    for t, W in zip(result.times, result.trajectory, strict=True):
        pred = [np.exp(-2 * lam * t) * m for m in mu0]
        worst = max(worst, tnorm([a - b for a, b in zip(moment(W), pred, strict=True)]) / tnorm(pred))
    return worst


@settings(max_examples=12)
@given(data=st.data())
def test_flow_balances_at_the_data_independent_rate(data):
    widths = data.draw(dst.widths(min_depth=2, max_depth=4, max_width=4))
    cx = data.draw(st.booleans())
    W = data.draw(dst.weights(widths, complex=cx))
    kind = data.draw(st.sampled_from(LOSS_KINDS))
    lam = data.draw(st.floats(0.0, 2.0))
    loss = random_loss((widths[-1], widths[0]), kind, data.draw(st.integers(0, 2**31)), complex=cx)
    r = train(W, loss, lam=lam, t_final=1.5, t_eval=np.linspace(0, 1.5, 6), rtol=1e-11, record_weights=True,
              speeds=False)
    assert r.converged, r.message
    mu0 = moment(W)
    if tnorm(mu0) > 1e-8 * tnorm(W) ** 2:
        assert _mu_law_error(r, mu0, lam) <= 1e-9
    np.testing.assert_allclose(r.mu_norm, [tnorm(moment(w)) for w in r.trajectory], rtol=1e-12, atol=1e-15)


@settings(max_examples=10)
@given(data=st.data())
def test_from_a_balanced_start_x_follows_the_learning_flow(data):
    widths = data.draw(dst.widths(min_depth=1, max_depth=4, max_width=4))
    rank = data.draw(st.integers(1, min(widths)))
    cx = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    W, X0 = balanced_aligned(rng, widths, rank, cx)
    loss = random_loss(X0.shape, data.draw(st.sampled_from(LOSS_KINDS)), rng, complex=cx)
    lam = data.draw(st.sampled_from([0.0, 0.5]))
    ts = np.linspace(0, 1.0, 5)
    r = train(W, loss, lam=lam, t_final=1.0, t_eval=ts, rtol=1e-12, speeds=False)
    lf = learning_flow(X0, loss, len(W), lam=lam, t_final=1.0, t_eval=ts, rtol=1e-12)
    assert r.converged and lf.converged
    err = np.linalg.norm(r.X - lf.trajectory, axis=(1, 2)) / np.linalg.norm(lf.trajectory, axis=(1, 2))
    assert err.max() <= 1e-8


@pytest.mark.parametrize("depth, lam", [(1, 0.0), (2, 0.0), (2, 0.2), (3, 0.0), (4, 0.1)])
def test_whitened_regression_matches_the_closed_form(depth, lam):
    rng = np.random.default_rng(depth)
    widths = (4,) + (5,) * (depth - 1) + (3,)
    prob = aligned_regression(widths, [2.0, 1.0, 0.4], [0.05, 0.2, 0.6], rng, lam=lam)
    np.testing.assert_allclose(product(prob.weights), prob.solution(0.0)[0], atol=1e-14)
    r = train(prob.weights, prob.loss, lam=lam, t_final=3.0, t_eval=np.linspace(0, 3, 7), rtol=1e-12)
    Xo = prob.solution(r.times)
    err = np.linalg.norm(r.X - Xo, axis=(1, 2)) / np.linalg.norm(Xo, axis=(1, 2))
    assert err.max() <= 1e-8


@pytest.mark.parametrize(
    "kind, method",
    [(k, "gd") for k in LOSS_KINDS] + [(k, "sgd") for k in LOSS_KINDS if k != "distance"],
)
def test_gd_moment_map_identity_per_step(kind, method):
    rng = np.random.default_rng(LOSS_KINDS.index(kind))
    widths = (3, 4, 2, 3)
    W = tuple(rng.standard_normal((widths[i], widths[i - 1])) for i in range(1, 4))
    loss = random_loss((3, 3), kind, rng)
    eta, lam = 0.03, 0.4
    kw = dict(batch_size=2, rng=7) if method == "sgd" else {}
    r = train(W, loss, lam=lam, method=method, eta=eta, steps=6, record_every=1, record_weights=True, **kw)
    for k in range(6):
        Wk, Wn = r.trajectory[k], r.trajectory[k + 1]
        step_loss = loss.batch(r.batches[k]) if method == "sgd" else loss
        g = grad_data(Wk, step_loss(product(Wk))[1])
        pred = [(1 - eta * lam) ** 2 * m + eta**2 * (g[i] @ g[i].T - g[i + 1].T @ g[i + 1])
                for i, m in enumerate(moment(Wk))]
        scale = tnorm([w @ w.T for w in Wn])
        assert tnorm([a - b for a, b in zip(moment(Wn), pred, strict=True)]) <= 1e-12 * scale


def test_sgd_is_reproducible_from_a_seed_and_records_its_batches():
    rng = np.random.default_rng(0)
    loss = random_loss((3, 3), "completion", rng)
    W = tuple(rng.standard_normal((3, 3)) for _ in range(3))
    a = train(W, loss, method="sgd", eta=0.02, steps=30, batch_size=3, rng=11)
    b = train(W, loss, method="sgd", eta=0.02, steps=30, batch_size=3, rng=11)
    c = train(W, loss, method="sgd", eta=0.02, steps=30, batch_size=3, rng=12)
    assert a.batches.shape == (30, 3)
    assert all(len(set(batch)) == 3 for batch in a.batches)
    np.testing.assert_array_equal(a.batches, b.batches)
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.batches, c.batches)


def test_recorded_speeds_are_the_split_of_the_velocity():
    rng = np.random.default_rng(2)
    W = tuple(rng.standard_normal(s) for s in [(3, 2), (3, 3), (2, 3)])
    loss = random_loss((2, 2), "regression", rng)
    lam = 0.5
    r = train(W, loss, lam=lam, t_final=0.5, t_eval=[0.25, 0.5], record_weights=True)
    from dln_git.testing.dense import dense_projection_vertical, flatten

    for Wt, v, h in zip(r.trajectory, r.vertical_speed, r.horizontal_speed, strict=True):
        G = loss(product(Wt))[1]
        V = flatten([-(g + lam * w) for g, w in zip(grad_data(Wt, G), Wt, strict=True)])
        PV = dense_projection_vertical(Wt)
        assert v == pytest.approx(np.linalg.norm(PV @ V), rel=1e-9)
        assert h == pytest.approx(np.linalg.norm(V - PV @ V), rel=1e-9)
    assert r.loss == pytest.approx(r.data_loss + lam * r.regularizer)


def test_matrix_completion_end_to_end():
    """N = 4, widths 32, a rank-3 32 x 32 matrix from 40% of its entries (the issue's real problem)."""
    rng = np.random.default_rng(0)
    d = 32
    U, _ = np.linalg.qr(rng.standard_normal((d, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((d, 3)))
    Y = U @ np.diag([3.0, 2.0, 1.0]) @ V.T
    mask = rng.random((d, d)) < 0.4
    loss = MatrixCompletion(Y, mask)
    W0 = tuple(0.1 * rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(4))
    for lam in (0.0, 1e-3):
        r = train(W0, loss, lam=lam, method="gd", eta=0.05, steps=5000, record_every=250)
        assert r.converged, r.message
        assert r.data_loss[-1] < 1e-3 * r.data_loss[0]
        # the unobserved entries are recovered: implicit low-rank bias of depth
        assert np.linalg.norm(r.X[-1] - Y) <= 0.02 * np.linalg.norm(Y)
        assert len(r.times) == len(r.mu_norm) == len(r.vertical_speed) == 21
        if lam:
            # regularization balances: ||mu|| shrinks by at least (1 - eta lam)^{2k} up to the eta^2 drift
            assert r.mu_norm[-1] < r.mu_norm[0]
            assert np.all(r.vertical_speed > 0)


def test_divergence_is_reported_not_hidden():
    W = (np.eye(2) * 3, np.eye(2) * 3)
    r = train(W, SquaredDistance(np.zeros((2, 2))), method="gd", eta=10.0, steps=200, record_every=1)
    assert not r.converged
    assert "diverged" in r.message


def test_bad_options_are_named():
    W = (np.eye(2), np.eye(2))
    loss = SquaredDistance(np.eye(2))
    with pytest.raises(ValueError, match="t_final"):
        train(W, loss)
    with pytest.raises(ValueError, match="eta"):
        train(W, loss, method="gd", steps=3)
    with pytest.raises(ValueError, match="eta"):
        train(W, loss, method="gd", eta=-1, steps=3)
    with pytest.raises(ValueError, match="steps"):
        train(W, loss, method="gd", eta=0.1)
    with pytest.raises(ValueError, match="data loss"):
        train(W, loss, method="sgd", eta=0.1, steps=3, batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        train(W, random_loss((2, 2), "regression", 0), method="sgd", eta=0.1, steps=3, batch_size=99)
    with pytest.raises(ValueError, match="method"):
        train(W, loss, method="adam")
    with pytest.raises(ValueError, match="lam"):
        train(W, loss, lam=np.nan, t_final=1.0)
    with pytest.raises(ValueError, match="shape"):
        train(W, SquaredDistance(np.eye(3)), t_final=1.0)
