"""Divergence is reported, never called convergence; every option is checked and named (issue 12).

Divergence is provoked on problems where it is certain: GD on ``1/2 ||X - Y||^2`` at depth 1 is
``W <- W - eta (W - Y)``, which diverges for ``eta > 2`` (the error is multiplied by ``1 - eta``),
and ``E(X) = -||X||^4 / 4`` blows up in finite time under any gradient flow.
"""

from __future__ import annotations

import numpy as np
import pytest

from dln_git.decomposition import (
    CallableLoss,
    SquaredDistance,
    aligned_regression,
    fast_slow,
    learning_flow,
    learning_velocity,
    loss_value_and_gradient,
    regularized_moment_map,
    split,
    split_training_velocity,
    train,
)
from dln_git.decomposition.learning_flow import balanced_metric_kernel
from dln_git.testing.losses import random_loss


def _blow_up_loss(shape):
    """``E(X) = -||X||^4 / 4``, ``grad E = -||X||^2 X``: dX/dt = ||X||^2 X escapes in finite time."""

    def E(X):
        r2 = float(np.vdot(X, X).real)
        return -0.25 * r2 * r2, -r2 * X

    return CallableLoss(E, shape)


@pytest.mark.parametrize("speeds", [False, True])
@pytest.mark.parametrize("method", ["gd", "sgd"])
def test_discrete_divergence_stops_at_once_with_the_step_and_loss(method, speeds):
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((3, 2))
    W = (rng.standard_normal((3, 2)),)
    eta = 5.0  # error factor |1 - eta| = 4 per step: the loss grows 16-fold per step
    loss = random_loss((3, 2), "regression", rng) if method == "sgd" else SquaredDistance(Y)
    kw = {"batch_size": 2, "rng": 1} if method == "sgd" else {}
    if method == "sgd":
        eta = 50.0
    r = train(W, loss, method=method, eta=eta, steps=2000, record_every=500, speeds=speeds, **kw)
    assert not r.converged and not r.completed
    assert r.message.startswith("diverged at step")
    assert r.steps < 100  # stopped at once, not after 2000 steps
    for name in ("loss", "mu_norm", "regularizer", "X"):
        assert np.isfinite(getattr(r, name)).all(), name
    assert all(np.isfinite(w).all() for w in r.weights)
    assert r.step_index[-1] == r.steps  # the returned weights are the last record
    if method == "gd":  # closed form: L_k = 16^k L_0 at depth 1
        np.testing.assert_allclose(r.loss[-1], 0.5 * np.linalg.norm(W[0] - Y) ** 2 * 16.0 ** r.steps, rtol=1e-9)
        assert r.loss[-1] > 1e12 * r.loss[0]


def test_a_stable_step_converges_and_says_completed():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((2, 2))
    r = train((np.zeros((2, 2)),), SquaredDistance(Y), method="gd", eta=1.5, steps=60)
    assert r.converged and r.completed, r.message
    np.testing.assert_allclose(r.weights[0], Y + (0.0 - Y) * (-0.5) ** 60, atol=1e-15)  # |1 - eta| = 1/2


def test_flow_learning_flow_and_fast_slow_stop_at_a_finite_time_blow_up():
    W = (np.eye(2), 1.5 * np.eye(2))
    loss = _blow_up_loss((2, 2))
    r = train(W, loss, t_final=10.0, speeds=True)
    assert not r.converged and not r.completed
    assert "diverged" in r.message or "collapsed" in r.message
    assert np.isfinite(r.loss).all() and all(np.isfinite(w).all() for w in r.weights)
    lf = learning_flow(np.eye(2), loss, 2, t_final=10.0)
    assert not lf.converged and not lf.completed and np.isfinite(lf.trajectory).all()
    fs = fast_slow(W, loss, 0.1, t_final=10.0)
    assert not fs.converged and np.isfinite(fs.X).all(), fs.message


def test_weights_too_large_for_their_product_give_a_clear_error():
    W = tuple(1e150 * np.eye(2) for _ in range(3))  # X = 1e450 I
    loss = SquaredDistance(np.eye(2))
    for call in (lambda: loss_value_and_gradient(W, loss), lambda: train(W, loss, t_final=1.0)):
        with pytest.raises(ValueError, match="not finite in float64"):
            call()


W2 = (np.eye(2), np.eye(2))
LOSS = SquaredDistance(np.eye(2))
REGRESSION = random_loss((2, 2), "regression", 0)

BAD_OPTIONS = [
    (lambda: train(W2, LOSS, lam=-1.0, t_final=1.0), "lam"),
    (lambda: train(W2, LOSS, method="adam", t_final=1.0), "method"),
    (lambda: train(W2, LOSS, t_final=0.0), "t_final"),
    (lambda: train(W2, LOSS, t_final=1.0, rtol=2.0), "rtol"),
    (lambda: train(W2, LOSS, t_final=1.0, rtol=0.0), "rtol"),
    (lambda: train(W2, LOSS, t_final=1.0, atol=-1e-3), "atol"),
    (lambda: train(W2, LOSS, t_final=1.0, max_steps=0), "max_steps"),
    (lambda: train(W2, LOSS, t_final=1.0, speeds=1), "speeds"),
    (lambda: train(W2, LOSS, t_final=1.0, record_weights="yes"), "record_weights"),
    (lambda: train(W2, LOSS, t_final=1.0, eta=0.1), "eta"),
    (lambda: train(W2, LOSS, method="gd", eta=-0.1, steps=3), "eta"),
    (lambda: train(W2, LOSS, method="gd", eta=0.0, steps=3), "eta"),
    (lambda: train(W2, LOSS, method="gd", eta=0.1, steps=0), "steps"),
    (lambda: train(W2, LOSS, method="gd", eta=0.1, steps=2.5), "steps"),
    (lambda: train(W2, LOSS, method="gd", eta=0.1, steps=3, record_every=0), "record_every"),
    (lambda: train(W2, LOSS, method="gd", eta=0.1, steps=3, t_final=1.0), "t_final"),
    (lambda: train(W2, LOSS, method="gd", eta=0.1, steps=3, batch_size=1), "batch_size"),
    (lambda: train(W2, REGRESSION, method="sgd", eta=0.1, steps=3, batch_size=0), "batch_size"),
    (lambda: train(W2, REGRESSION, method="sgd", eta=0.1, steps=3, batch_size=99), "batch_size"),
    (lambda: split(W2, W2, rtol=1.5), "rtol"),
    (lambda: split_training_velocity(W2, LOSS, lam=np.inf), "lam"),
    (lambda: loss_value_and_gradient(W2, LOSS, lam=-0.5), "lam"),
    (lambda: learning_velocity(np.eye(2), LOSS, 2, rank_rtol=1.0), "rank_rtol"),
    (lambda: learning_velocity(np.eye(2), LOSS, 2, rank_rtol=-1e-3), "rank_rtol"),
    (lambda: learning_flow(np.eye(2), LOSS, 2, t_final=-1.0), "t_final"),
    (lambda: learning_flow(np.eye(2), LOSS, 2, t_final=1.0, max_steps=0), "max_steps"),
    (lambda: learning_flow(np.eye(2), LOSS, 2, t_final=1.0, t_eval=[0.5, 0.2]), "t_eval"),
    (lambda: fast_slow(W2, LOSS, 0.0, t_final=1.0), "eps"),
    (lambda: fast_slow(W2, LOSS, -1e-3, t_final=1.0), "eps"),
    (lambda: fast_slow(W2, LOSS, 0.1, t_final=1.0, atol=-1.0), "atol"),
    (lambda: regularized_moment_map((np.eye(2),), 0.5, -1.0), "t"),
    (lambda: aligned_regression((2, 2, 2), [1.0], [0.5], 0, noise=-0.1), "noise"),
    (lambda: aligned_regression((2, 2, 2), [1.0], [0.5], 0, samples=0), "samples"),
    (lambda: aligned_regression((3, 2, 2), [1.0], [0.5], 0, samples=2), "samples"),
    (lambda: balanced_metric_kernel([1.0, 0.5], (2, 2), 2, 3), "rank"),
    (lambda: balanced_metric_kernel([1.0, 0.5], (2, 2), 0, 2), "depth"),
    (lambda: balanced_metric_kernel([1.0], (2, 2), 2, 2), "rank"),
]


@pytest.mark.parametrize(("call", "name"), BAD_OPTIONS, ids=[f"{k}-{n}" for k, (_, n) in enumerate(BAD_OPTIONS)])
def test_bad_option_values_are_rejected_naming_the_argument(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value)
