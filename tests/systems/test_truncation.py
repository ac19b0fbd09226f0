"""Balanced truncation: bound, measured error against a dense fine-grid reference, order/tol semantics."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from systems_helpers import dense_transfer

from dln_git.systems import StateSpace, balanced_truncation, random_state_space


def _dense_hinf(full, red, k=1500):
    """sigma_max(G - G_r) on a dense grid with explicit inverses (reference for the measured error)."""
    if full.is_discrete:
        pts = np.exp(1j * np.linspace(-np.pi, np.pi, k))
    else:
        w = np.logspace(-4, 4, k)
        pts = 1j * np.concatenate([-w, [0.0], w])
    E = dense_transfer(full, pts) - dense_transfer(red, pts)
    return np.linalg.svd(E, compute_uv=False)[:, 0].max()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 14), k=st.integers(1, 3), discrete=st.booleans())
def test_error_within_bound_and_close_to_dense_reference(seed, n, k, discrete):
    rng = np.random.default_rng(seed)
    s = random_state_space(n, 2, 2, rng, dt=1.0 if discrete else None)
    k = min(k, n - 1)
    r = balanced_truncation(s, k)
    assert r.converged and r.order <= k
    assert np.allclose(r.left @ r.right, np.eye(r.order), atol=1e-8)
    s1 = r.hsv[0]
    assert r.error <= r.bound + 1e-10 * s1
    ref = _dense_hinf(s, r.system)
    assert ref <= r.bound + 1e-10 * s1
    # the refined grid finds the peak at least as well as 1500 dense points (1e-3 resolution)
    assert r.error >= ref * (1 - 1e-3) - 1e-12 * s1
    if r.hsv[k] > 1e-6 * s1:
        assert r.error >= r.hsv[k] * (1 - 1e-3)


def test_tol_picks_the_smallest_order_and_order_checks():
    rng = np.random.default_rng(7)
    s = random_state_space(12, 2, 2, rng)
    r = balanced_truncation(s, tol=1e-3)
    tails = [2 * r.hsv[j:].sum() for j in range(13)]
    k = r.order
    assert tails[k] <= 1e-3 * r.hsv[0] and tails[k - 1] > 1e-3 * r.hsv[0]
    with pytest.raises(ValueError, match="not both"):
        balanced_truncation(s, 3, tol=0.1)
    with pytest.raises(ValueError, match="order"):
        balanced_truncation(s, 13)
    with pytest.raises(TypeError, match="order"):
        balanced_truncation(s, 2.5)
    u = random_state_space(8, 2, 2, rng, n_unstable=2)
    with pytest.raises(ValueError, match="unstable"):
        balanced_truncation(u, 1)
    with pytest.raises(ValueError, match="unstable"):
        balanced_truncation(u, 4, unstable="raise")


def test_full_order_keeps_transfer_function():
    rng = np.random.default_rng(8)
    s = random_state_space(6, 3, 3, rng, dt=0.2)
    r = balanced_truncation(s)
    assert r.order == 6 and r.bound == 0.0 and r.error <= 1e-12 * r.hsv[0]


def test_nan_input_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        balanced_truncation((np.array([[np.nan]]), np.ones((1, 1)), np.ones((1, 1))), 1)


def test_static_gain_and_no_states():
    s = StateSpace(np.zeros((0, 0)), np.zeros((0, 2)), np.zeros((1, 0)), np.ones((1, 2)))
    r = balanced_truncation(s)
    assert r.order == 0 and r.converged and np.allclose(r.system.D, 1.0)
