"""Acceptance tests of the L2 balancing flow ``dln_git.flows.l2_flow`` (docs/math section 3).

Every check compares with something the flow does not compute itself: the exact law
``mu(W(t)) = exp(-2t) mu(W(0))`` evaluated with the closed-form moment map, the end-to-end
product, the minimum ``(N/2) sum s_k^{2/N}`` of R from the SVD of X, and the dense
``solve_ivp`` reference :mod:`dln_git.testing.dense_flows`.
"""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import (
    min_regularizer_svd,
    mu_identity_error,
    mu_norm,
    product,
    regime_instances,
    regularizer,
    rel_diff,
    x_drift,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dln_git.flows import l2_flow
from dln_git.testing import strategies as dst
from dln_git.testing.dense_flows import dense_l2_flow

CASES = regime_instances()
T_EVAL = np.array([0.2, 0.5, 1.0])


def _decay(t):
    return np.exp(-2.0 * t)


# ---------------------------------------------------------------------------------------------
# 1-2. mu(t) = exp(-2t) mu(0) and X kept, on every regime, both spaces
# ---------------------------------------------------------------------------------------------


def _regime_params():
    for name in CASES:
        for space in ("fiber", "orbit"):
            yield pytest.param(name, space, id=f"{name}-{space}")


@pytest.mark.parametrize(("name", "space"), list(_regime_params()))
def test_moment_map_decays_exactly_and_x_is_kept(name, space):
    W = CASES[name]
    X0 = product(W)
    res = l2_flow(W, T_EVAL[-1], space=space, t_eval=T_EVAL, record="weights")
    assert res.reached_t_final, res.message
    assert res.flow == f"l2-{space}"
    traj = res.trajectory
    assert len(traj) == len(res.times)
    if len(W) == 1:
        # depth 1: no hidden layer, nothing moves
        assert all(np.array_equal(a, b) for a, b in zip(res.weights, W, strict=True))
        return
    np.testing.assert_allclose(res.times, np.concatenate([[0.0], T_EVAL]), rtol=0, atol=1e-14)
    assert mu_identity_error(W, res.times, traj, _decay) <= 1e-9
    # X kept to rounding by the group / retracted schemes, recomputed here independently
    drifts = [x_drift(Wt, X0) for Wt in traj]
    assert max(drifts) <= 1e-12
    assert res.max_x_drift <= 1e-12
    np.testing.assert_allclose(res.x_drift, drifts, rtol=0, atol=1e-15)
    # the recorded summaries are those of the recorded weights
    np.testing.assert_allclose(res.mu_norm, [mu_norm(Wt) for Wt in traj], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.regularizer, [regularizer(Wt) for Wt in traj], rtol=1e-13)
    # R decreases along the gradient flow and never goes below its minimum on the fiber
    R = np.array([regularizer(Wt) for Wt in traj])
    assert np.all(np.diff(R) <= 1e-12 * R[0])
    assert R[-1] >= min_regularizer_svd(X0, len(W)) * (1 - 1e-12)


@pytest.mark.parametrize(
    "name", ["closed(3, 3, 3)", "non-closed(2, 4, 4, 2)", "funnel(4, 3, 2, 1)", "ill-cond1e8(3,3,3)"]
)
def test_scipy_method_drift_is_measured(name):
    """The solve_ivp scheme does not keep X; its drift is recorded, finite, and the true one."""
    W = CASES[name]
    X0 = product(W)
    res = l2_flow(W, T_EVAL[-1], method="scipy", t_eval=T_EVAL, record="weights")
    assert res.method == "scipy"
    drift = res.max_x_drift
    assert isinstance(drift, float)
    assert np.isfinite(drift) and drift >= 0.0
    np.testing.assert_allclose(res.x_drift, [x_drift(Wt, X0) for Wt in res.trajectory], rtol=1e-6, atol=1e-16)
    # the same flow, so the exact decay law holds to the integration tolerance
    assert mu_identity_error(W, res.times, res.trajectory, _decay) <= 1e-6


@st.composite
def _small_instances(draw):
    widths = draw(dst.widths(min_depth=2, max_depth=3, max_width=3))
    cplx = draw(st.booleans())
    W = draw(dst.weights(widths, cond=10.0, complex=cplx))
    space = draw(st.sampled_from(["fiber", "orbit"]))
    return W, space


@settings(max_examples=max(4, settings().max_examples // 3))
@given(_small_instances())
def test_property_moment_map_decay_and_x_kept(case):
    W, space = case
    X0 = product(W)
    t_eval = np.array([0.5, 1.0])
    res = l2_flow(W, 1.0, space=space, t_eval=t_eval, record="weights")
    assert res.reached_t_final, res.message
    # relative to max(||mu0||, R): the step control is relative to ||W||, so the law holds to ~rtol R in
    # absolute terms; relative to ||mu0|| alone it fails when W0 is nearly balanced (widths (1,1,1),
    # ||mu0|| = 1.2e-8 R: 2 steps of 0.5, off by 2.5e-3 ||mu0|| = 3e-11 R; ||mu0|| = 0.056 R: 1.1e-9 ||mu0||)
    assert mu_identity_error(W, res.times, res.trajectory, _decay, floor=1.0) <= 1e-9
    assert max(x_drift(Wt, X0) for Wt in res.trajectory) <= 1e-12


# ---------------------------------------------------------------------------------------------
# 3. Against the dense reference
# ---------------------------------------------------------------------------------------------

DENSE_TIMES = np.array([0.0, 0.3, 1.2])
DENSE_CASES = ["closed(3, 3, 3)", "non-closed(1, 2, 2)", "funnel(1, 2, 3, 3)",
               "funnel(4, 3, 2, 1)", "complex(2,3,2)"]


@pytest.mark.parametrize("name", DENSE_CASES)
def test_matches_dense_reference(name):
    W = CASES[name]
    out = {}
    for space in ("fiber", "orbit"):
        res = l2_flow(W, DENSE_TIMES[-1], space=space, t_eval=DENSE_TIMES[1:], record="weights")
        ref = dense_l2_flow(W, DENSE_TIMES, space=space, rtol=1e-10, atol=1e-12)
        assert ref.success, ref.message
        assert len(res.trajectory) == len(ref.weights) == len(DENSE_TIMES)
        errs = [rel_diff(a, b) for a, b in zip(res.trajectory, ref.weights, strict=True)]
        assert max(errs) <= 1e-7, (space, errs)
        out[space] = (res.trajectory[-1], ref.weights[-1])
    if name in ("funnel(1, 2, 3, 3)", "funnel(4, 3, 2, 1)"):
        # these funnels have a component of W in the non-gauge fiber directions: the two flows differ
        # (the dense references say so too), by far more than the integration error
        assert rel_diff(out["fiber"][1], out["orbit"][1]) > 1e-4
        assert rel_diff(out["fiber"][0], out["orbit"][0]) > 1e-4
    elif not name.startswith("funnel"):
        # off funnels the fiber flow is the orbit flow
        assert rel_diff(out["fiber"][0], out["orbit"][0]) <= 1e-7


# ---------------------------------------------------------------------------------------------
# 4. R reaches its minimum (N/2) sum s^{2/N} on the fiber
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(3, 1, 3)"])
def test_regularizer_reaches_minimum_closed(name):
    W = CASES[name]
    X0 = product(W)
    Rmin = min_regularizer_svd(X0, len(W))
    res = l2_flow(W, 8.0, t_eval=[2.0, 5.0, 8.0])
    assert res.reached_t_final, res.message
    R = res.regularizer
    assert R[-1] >= Rmin * (1 - 1e-12)
    assert R[-1] / Rmin - 1 <= 1e-10
    assert mu_norm(res.weights) <= 1.001 * np.exp(-16.0) * mu_norm(W)
    assert x_drift(res.weights, X0) <= 1e-12


@pytest.mark.parametrize("name", ["non-closed(1, 2, 2)", "non-closed(2, 4, 4, 2)"])
def test_regularizer_reaches_minimum_non_closed(name):
    """On non-closed orbits R still tends to the fiber minimum (R - Rmin ~ e^{-2t})."""
    W = CASES[name]
    X0 = product(W)
    Rmin = min_regularizer_svd(X0, len(W))
    res = l2_flow(W, 9.0, t_eval=[3.0, 6.0, 9.0], record="weights")
    assert res.reached_t_final, res.message
    R = np.array([regularizer(Wt) for Wt in res.trajectory])
    assert np.all(np.diff(R) < 0)
    assert np.all(R >= Rmin * (1 - 1e-12))
    assert R[-1] / Rmin - 1 <= 1e-6
    assert max(x_drift(Wt, X0) for Wt in res.trajectory) <= 1e-12


def test_depth_one_records_the_requested_times():
    W = CASES["depth1(3,2)"]
    res = l2_flow(W, 1.0, t_eval=[0.5, 1.0], record="weights")
    np.testing.assert_array_equal(res.times, [0.0, 0.5, 1.0])
    assert len(res.trajectory) == 3


def test_orbit_flow_on_non_closed_orbit_reports_convergence():
    W = CASES["non-closed(1, 2, 2)"]
    X0 = product(W)
    res = l2_flow(W, 6.0, space="orbit", t_eval=[3.0, 6.0], record="weights")
    assert mu_identity_error(W, res.times, res.trajectory, _decay) <= 1e-9
    assert x_drift(res.weights, X0) <= 1e-12
    assert res.reached_t_final, res.message


# ---------------------------------------------------------------------------------------------
# 9. Input validation
# ---------------------------------------------------------------------------------------------

W_OK = CASES["closed(3, 3, 3)"]


@pytest.mark.parametrize("t_final", [0.0, -1.0, np.nan, np.inf])
def test_rejects_bad_t_final(t_final):
    with pytest.raises(ValueError):
        l2_flow(W_OK, t_final)


@pytest.mark.parametrize("rtol", [0.0, -1e-8, 1.0, 2.0])
def test_rejects_bad_rtol(rtol):
    with pytest.raises(ValueError):
        l2_flow(W_OK, 1.0, rtol=rtol)


@pytest.mark.parametrize("kw", [{"space": "gauge"}, {"method": "rk4"}, {"method": "projected"},
                                {"record": "everything"}, {"atol": -1.0}, {"step": 0.0}, {"step": 2.0},
                                {"max_steps": 0}])
def test_rejects_bad_options(kw):
    with pytest.raises(ValueError):
        l2_flow(W_OK, 1.0, **kw)


@pytest.mark.parametrize("t_eval", [[], [0.5, 0.2], [0.5, 0.5], [-0.1, 0.5], [0.5, 1.5], [0.2, np.nan]])
def test_rejects_bad_t_eval(t_eval):
    with pytest.raises(ValueError):
        l2_flow(W_OK, 1.0, t_eval=t_eval)


def test_l2_generator_short_segments_solve_the_gram_system():
    """Where auto takes the segments preconditioner and the stabiliser is trivial, the L2 flow's
    solves use segments of at most WARM_SEGMENT layers; the generator is still ``-xi`` with
    ``A^*A xi = mu``: against a block_lu solve of the same system to 1e-12 (a second
    preconditioner), and its residual against the Gram operator applied layer by layer."""
    from dln_git import random_weights
    from dln_git.core.gram import GramOperator
    from dln_git.core.gram.segments import WARM_SEGMENT, SegmentPreconditioner
    from dln_git.core.moment_map import _moment_map
    from dln_git.flows.fields import L2Generator

    W = random_weights((48,) * 6, 0)
    gen = L2Generator(1e-11, trivial_stabiliser=True)
    M = gen._preconditioner(GramOperator(W, trivial_kernel=True))
    assert isinstance(M, SegmentPreconditioner)
    assert max(s.k - s.j + 1 for s in M.segments) == WARM_SEGMENT
    assert L2Generator(1e-11)._preconditioner(GramOperator(W)) == "auto"  # kernel not certified
    xi = tuple(-g for g in gen(W))
    mu = _moment_map(W)
    ref = GramOperator(W).solve(mu, rtol=1e-12, preconditioner="block_lu")
    assert ref.converged
    assert rel_diff(xi, ref.xi) <= 1e-9
    residual = tuple(a - m for a, m in zip(GramOperator(W).apply(xi), mu, strict=True))
    assert np.sqrt(sum(np.linalg.norm(r) ** 2 for r in residual)) <= 1e-10 * np.sqrt(sum(np.linalg.norm(m) ** 2
                                                                                          for m in mu))


def test_l2_limit_from_a_scalar_gauged_start_matches_the_dense_reference():
    """Widths (4,)*6, hidden scalar gauges 10^k, |k| <= 2 (``||mu_0|| / Rmin = 6.6e3``): the limit
    of ``balance(method="l2")`` against ``solve_ivp`` (DOP853, rtol 1e-13) on the dense orbit
    projection, which agrees with its own rtol-1e-12 run to 1e-12. With residual-only inner
    solves (floored at 1e-12) the limit was 7e-7 away: the velocity error of a Gram solve is
    ``||r|| / sqrt(lambda_min)``; with the energy criterion (ENERGY_FACTOR) 1e-8."""
    from dln_git import balance, random_weights
    from dln_git.core.moment_map import _moment_norm
    from dln_git.core.scaling import normalized
    from dln_git.core.svd_chart import min_regularizer

    rng = np.random.default_rng(2)
    W = random_weights((4,) * 6, 2)
    t = [1.0, *(10.0 ** rng.uniform(-2, 2, size=4)), 1.0]
    W = tuple((t[i + 1] / t[i]) * w for i, w in enumerate(W))
    V, s = normalized(W)
    ratio = _moment_norm(V) / min_regularizer(product(V), len(V))
    assert ratio > 1e3  # the case: far from balance in the scale of X
    T = 0.5 * np.log(ratio / 1e-12) + 2
    ref = dense_l2_flow(V, np.array([0.0, T]), space="orbit", method="DOP853", rtol=1e-13, atol=1e-15,
                        rank_rtol=1e-15).weights[-1]
    res = balance(W, method="l2", tol=1e-10)
    assert res.converged
    assert rel_diff([w / s for w in res.weights], ref) <= 5e-8
