"""The fast-slow system (docs/math section 4): exact balancing law on the fast time, and the O(eps)
distance to the learning flow over three decades of eps."""

from __future__ import annotations

import numpy as np
import pytest
from decomp_helpers import moment, tnorm

from dln_git.decomposition import SquaredDistance, fast_slow, fast_slow_distance
from dln_git.testing.losses import random_loss


def test_moment_map_decays_at_rate_two_over_eps():
    rng = np.random.default_rng(0)
    W = tuple(rng.standard_normal(s) for s in [(3, 3), (3, 3), (2, 3)])
    loss = random_loss((2, 3), "regression", rng)
    eps = 0.1
    r = fast_slow(W, loss, eps, t_final=0.3, t_eval=[0.1, 0.2, 0.3], rtol=1e-10)
    assert r.converged, r.message
    predicted = tnorm(moment(W)) * np.exp(-2 * r.times / eps)
    np.testing.assert_allclose(r.mu_norm, predicted, rtol=1e-5)


@pytest.mark.parametrize("widths, kind", [((2, 2, 2, 2), "distance"), ((2, 3, 2), "sensing")])
def test_distance_to_the_learning_flow_is_first_order_in_eps(widths, kind):
    rng = np.random.default_rng(len(widths))
    W = tuple(rng.standard_normal((widths[i], widths[i - 1])) / np.sqrt(widths[i - 1]) for i in range(1, len(widths)))
    loss = random_loss((widths[-1], widths[0]), kind, rng)
    eps = np.array([1e-2, 1e-3, 1e-4, 1e-5])
    d = np.array([fast_slow_distance(W, loss, e, t_final=1.0).distance for e in eps])
    slope = np.polyfit(np.log(eps), np.log(d), 1)[0]
    assert abs(slope - 1.0) <= 0.2, (slope, d)


def test_complex_weights_use_real_coordinates():
    rng = np.random.default_rng(1)
    W = tuple(rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2)) for _ in range(2))
    r = fast_slow(W, SquaredDistance(np.eye(2)), 0.05, t_final=0.5)
    assert r.converged and np.iscomplexobj(r.weights[0])
    assert r.mu_norm[-1] <= 1e-6 * r.mu_norm[0]


def test_bad_eps():
    W = (np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="eps"):
        fast_slow(W, SquaredDistance(np.eye(2)), 0.0, t_final=1.0)
