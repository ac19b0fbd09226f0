"""The learning flow on the balanced manifold (``learning_flow``, ``learning_velocity``): the
fractional-power formula against the end-to-end metric at balanced points, rank deficiency,
depth 1, and the objective it decreases."""

from __future__ import annotations

import numpy as np
import pytest
from decomp_helpers import balanced_aligned, metric, random_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from dln_git.decomposition import SquaredDistance, learning_flow, learning_velocity
from dln_git.testing import strategies as dst
from dln_git.testing.losses import random_loss


@settings(max_examples=25)
@given(data=st.data())
def test_velocity_is_minus_the_metric_at_balanced_points(data):
    """dX/dt = -dphi dphi^*(grad E) - lam N X at any balanced W over X (rank-deficient and complex)."""
    widths = data.draw(dst.widths(max_depth=5, max_width=4))
    rank = data.draw(st.integers(1, min(widths)))
    cx = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    W, X = balanced_aligned(rng, widths, rank, cx)
    G = random_matrix(rng, X.shape, cx)
    lam = data.draw(st.floats(0.0, 1.0))
    expected = -(metric(W, G) + lam * len(W) * X)
    got = learning_velocity(X, SquaredDistance(X - G), len(W), lam)
    assert np.linalg.norm(got - expected) <= 1e-12 * np.linalg.norm(expected) + 1e-14


def test_depth_one_is_plain_gradient_descent_on_x():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(learning_velocity(X, SquaredDistance(Y), 1, lam=0.5), -(X - Y) - 0.5 * X, atol=1e-15)
    r = learning_flow(X, SquaredDistance(Y), 1, t_final=2.0, t_eval=[1.0, 2.0])
    exact = [Y + (X - Y) * np.exp(-t) for t in r.times]
    np.testing.assert_allclose(r.trajectory, exact, rtol=1e-9, atol=1e-12)


def test_zero_power_is_the_identity_not_the_range_projector():
    """Rank-1 X = diag(4, 0), N = 2: dX/dt = -((XX^*)^{1/2} G + G (X^*X)^{1/2}) = -[[8, 4], [4, 0]];
    reading the zero powers as the range projector would give -[[8, 0], [0, 0]]."""
    X = np.diag([4.0, 0.0])
    G = np.ones((2, 2))
    got = learning_velocity(X, SquaredDistance(X - G), 2)
    np.testing.assert_allclose(got, -np.array([[8.0, 4.0], [4.0, 0.0]]), atol=1e-14)


def test_rank_deficient_flow_keeps_its_rank_and_decreases_the_objective():
    rng = np.random.default_rng(4)
    _, X0 = balanced_aligned(rng, (5, 4, 4, 4, 5), 2)
    loss = random_loss((5, 5), "completion", rng)
    r = learning_flow(X0, loss, 4, lam=0.2, t_final=2.0, t_eval=np.linspace(0, 2, 11))
    assert r.converged, r.message
    s = np.linalg.svd(r.X, compute_uv=False)
    assert s[2] <= 1e-14 * s[0]
    assert np.all(np.diff(r.objective) < 0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="t_final"):
        learning_flow(np.eye(2), SquaredDistance(np.eye(2)), 2, t_final=-1.0)
    with pytest.raises(TypeError, match="depth"):
        learning_flow(np.eye(2), SquaredDistance(np.eye(2)), 2.5, t_final=1.0)
    with pytest.raises(ValueError, match="NaN"):
        learning_flow(np.full((2, 2), np.nan), SquaredDistance(np.eye(2)), 2, t_final=1.0)
    with pytest.raises(ValueError, match="rank_rtol"):
        learning_velocity(np.eye(2), SquaredDistance(np.eye(2)), 2, rank_rtol=2.0)


def test_depth_one_from_a_rank_deficient_start_gains_rank():
    """N = 1 has no fractional powers and no rank constraint: X(t) = Y + (X0 - Y) e^{-t}."""
    X0 = np.diag([1.0, 0.0])
    Y = np.eye(2)
    r = learning_flow(X0, SquaredDistance(Y), 1, t_final=1.0)
    assert r.converged, r.message
    np.testing.assert_allclose(r.X, Y + (X0 - Y) * np.exp(-1.0), rtol=1e-9)
