"""Acceptance tests of the finite-time form ``dln_git.flows.l2_flow_finite_time`` (docs/math section 3).

With ``s = (1 - exp(-2t))/2``: ``mu(W(s)) = (1 - 2s) mu_0`` exactly, and on closed orbits
``W(1/2)`` is the ``t -> infinity`` limit of the L2 orbit flow. Checked with the closed-form
moment map, a long run of the plain L2 flow (a different vector field: ``mu(W)`` on the right-hand
side instead of the fixed ``mu_0``, in the time t), and the dense reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import (
    gaussian_weights,
    min_regularizer_svd,
    mu_identity_error,
    mu_norm,
    product,
    regime_instances,
    regularizer,
    rel_diff,
    x_drift,
)

from dln_git.flows import l2_flow, l2_flow_finite_time
from dln_git.testing.dense_flows import dense_l2_finite_time

CASES = regime_instances()
S_EVAL = np.array([0.1, 0.25, 0.4, 0.49, 0.5])
CLOSED = ["closed(3, 3, 3)", "closed(2, 2, 2, 2, 2)", "excess-closed(2, 4, 2)", "excess-closed(3, 1, 3)",
          "ill-cond1e8(3,3,3)", "complex(2,3,2)"]


def _linear(s):
    return 1.0 - 2.0 * s


@pytest.mark.parametrize("name", CLOSED)
def test_moment_map_is_linear_in_s_and_limit_is_balanced(name):
    W = CASES[name]
    X0 = product(W)
    res = l2_flow_finite_time(W, s_eval=S_EVAL, record="weights")
    assert res.converged, res.message
    assert res.flow == "l2-finite-time"
    np.testing.assert_allclose(res.times, np.concatenate([[0.0], S_EVAL]), rtol=0, atol=1e-14)
    assert mu_identity_error(W, res.times, res.trajectory, _linear) <= 1e-9
    assert max(x_drift(Wt, X0) for Wt in res.trajectory) <= 1e-12
    # the end point is balanced, with the minimum of R on the fiber (closed orbit: it is in the orbit)
    Wend = res.weights
    assert mu_norm(Wend) <= 1e-9 * regularizer(Wend)
    Rmin = min_regularizer_svd(X0, len(W))
    assert abs(regularizer(Wend) / Rmin - 1.0) <= 1e-9


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(2, 4, 2)", "closed(2, 2, 2, 2, 2)"])
def test_end_point_is_the_limit_of_the_plain_flow(name):
    W = CASES[name]
    end = l2_flow_finite_time(W)
    assert end.converged, end.message
    long = l2_flow(W, 18.0, space="orbit")
    assert long.reached_t_final, long.message
    assert mu_norm(long.weights) <= 1e-9 * regularizer(long.weights)
    assert rel_diff(end.weights, long.weights) <= 1e-8


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(3, 1, 3)", "complex(2,3,2)"])
def test_matches_dense_reference(name):
    W = CASES[name]
    s = np.array([0.0, 0.25, 0.5])
    res = l2_flow_finite_time(W, s_eval=s[1:], record="weights")
    ref = dense_l2_finite_time(W, s, rtol=1e-11, atol=1e-13)
    assert ref.success, ref.message
    errs = [rel_diff(a, b) for a, b in zip(res.trajectory, ref.weights, strict=True)]
    assert max(errs) <= 1e-8, errs


def test_non_closed_orbit_is_flagged():
    """(1,2,2): W is only Hoelder-1/2 at s = 1/2; the result must not pass for the limit silently."""
    W = CASES["non-closed(1, 2, 2)"]
    res = l2_flow_finite_time(W, s_eval=[0.2, 0.4], max_steps=300, record="weights")
    assert (not res.converged) or ("not closed" in res.message)
    assert "not closed" in res.message
    # where it did integrate, the exact law holds
    inside = [k for k, s in enumerate(res.times) if s <= 0.4]
    assert len(inside) == 3
    assert mu_identity_error(W, res.times[inside], [res.trajectory[k] for k in inside], _linear) <= 1e-9


def test_non_closed_orbit_integrates_away_from_the_end():
    W = gaussian_weights((2, 4, 4, 2), np.random.default_rng(3))
    res = l2_flow_finite_time(W, s_final=0.3, max_steps=150, record="weights")
    assert res.reached_t_final, res.message
    assert res.times[-1] == pytest.approx(0.3)
    assert mu_identity_error(W, res.times, res.trajectory, _linear) <= 1e-9


def test_depth_one():
    W = CASES["depth1(3,2)"]
    res = l2_flow_finite_time(W)
    assert res.converged
    assert np.array_equal(res.weights[0], W[0])


@pytest.mark.parametrize("kw", [{"s_final": 0.0}, {"s_final": 0.6}, {"s_final": -0.1}, {"method": "x"},
                                {"rtol": 0.0}, {"s_eval": [0.3, 0.2]}, {"s_eval": [0.55]}])
def test_rejects_bad_input(kw):
    with pytest.raises(ValueError):
        l2_flow_finite_time(CASES["closed(3, 3, 3)"], **kw)
