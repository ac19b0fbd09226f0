"""Hard inputs for the flows layer (issue 12): degenerate and rescaled weights, budgets, options,
the meaning of ``converged``, and results that never share memory with the input.

Correctness is checked against plain-numpy helpers (:mod:`flow_helpers`: product, moment map, R, the
SVD-chart minimum of R) and closed forms: on the fiber over ``X = 0`` the L2 fiber flow is exactly
``e^{-t} W`` (``dphi_W(W) = N X = 0``, so ``Pi_V(W) = W``), and the balanced point over ``X = 0`` is
``W = 0``. Scale: balanced points rescale with W; ``l2_flow(cW, t) = c l2_flow(W, t)`` and
``moment_flow(cW, t / c^2) = c moment_flow(W, t)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import conditioned_instance, min_regularizer_svd, moment, product, regularizer, tnorm
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.flows import balance, l2_flow, l2_flow_finite_time, moment_flow, scalar_prebalance
from dln_git.testing import strategies as dst

METHODS = ("newton", "l2", "moment", "svd")
SCALES = (1e-150, 1e-50, 1.0, 1e50, 1e150)
SMALL_WIDTHS = st.sampled_from([(2, 2, 2), (3, 3, 3, 3), (2, 3, 2), (1, 2, 2)])


def _unit(W, like=None):
    """W divided by the power of two nearest its largest entry (or that of ``like``): helpers stay in range."""
    ref = W if like is None else like
    m = max(float(np.max(np.abs(w))) for w in ref)
    k = 0 if m == 0 else round(np.log2(m))
    return [w * 2.0**-k for w in W]


def _rel(A, B) -> float:
    return tnorm([a - b for a, b in zip(A, B, strict=True)]) / max(tnorm(B), 1e-300)


def _check_balanced_on_fiber(W, res, tol):
    """Independent checks of a balance result: finite, balanced if converged, X kept."""
    assert all(np.all(np.isfinite(w)) for w in res.weights)
    V, Vb = _unit(W), _unit(res.weights, like=W)
    X, Xb = product(V), product(Vb)
    level = max(np.linalg.norm(X), np.prod([np.linalg.norm(v, 2) for v in V]))
    if res.converged:
        assert tnorm(moment(Vb)) <= 2 * tol * regularizer(Vb) + 1e-300, res.message
        assert np.linalg.norm(Xb - X) <= 1e-8 * level, res.message
    else:
        assert res.message


# ---------------------------------------------------------------------------------------------
# 1. zero and degenerate weights
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("zero", [0, 1, 2])
def test_zero_layer_gives_the_zero_balanced_point(method, zero):
    """The issue's reproducer: a zero layer means X = 0, whose only balanced point is W = 0."""
    W = list(dg.random_weights((3, 3, 3, 3), rng=0))
    W[zero] = np.zeros((3, 3))
    res = balance(tuple(W), method=method)
    assert res.converged, res.message
    assert all(np.array_equal(w, np.zeros_like(w)) for w in res.weights)
    assert "X = 0" in res.message


@settings(max_examples=16, deadline=None)
@given(W=dst.degenerate_weights(SMALL_WIDTHS), method=st.sampled_from(METHODS))
def test_balance_on_degenerate_weights(W, method):
    res = balance(W, method=method, tol=1e-10, max_iter=3000 if method in ("l2", "moment") else None)
    _check_balanced_on_fiber(W, res, 1e-10)


@settings(max_examples=10, deadline=None)
@given(W=dst.degenerate_weights(SMALL_WIDTHS, kinds=("zero_layer", "zero_product")))
def test_fiber_flow_over_zero_is_exponential_shrinking(W):
    """Closed form: over X = 0 the L2 fiber flow is W(t) = e^{-t} W (to the rounding of X)."""
    res = l2_flow(W, 1.5, t_eval=[0.5, 1.5], record="weights")
    assert res.reached_t_final, res.message
    for t, Wt in zip(res.times, res.trajectory, strict=True):
        assert _rel(_unit(Wt, like=W), [np.exp(-t) * v for v in _unit(W)]) <= 1e-8


@settings(max_examples=8, deadline=None)
@given(W=dst.degenerate_weights(SMALL_WIDTHS, kinds=("zero_layer", "rank_one", "tiny", "huge")))
def test_flows_on_degenerate_weights_are_finite_or_flagged(W):
    for res in (moment_flow(W, 1.0, max_steps=2000), l2_flow_finite_time(W, s_final=0.25, max_steps=2000)):
        assert all(np.all(np.isfinite(w)) for w in res.weights)
        assert res.reached_t_final or res.message
        assert not res.converged or np.isfinite(res.mu_norm[-1])


# ---------------------------------------------------------------------------------------------
# 2. scale: c W gives c times the answer at W
# ---------------------------------------------------------------------------------------------


def test_issue_reproducer_tiny_scale_is_balanced():
    W0 = dg.random_weights((3, 3, 3, 3), rng=0)
    res = balance(tuple(1e-100 * w for w in W0))
    assert res.converged and res.iterations > 0
    _check_balanced_on_fiber(tuple(1e-100 * w for w in W0), res, 1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_balance_scale_sweep(method):
    W = conditioned_instance((2, 2, 2, 2), 3.0, seed=4)[0]
    ref = balance(W, method=method)
    assert ref.converged, ref.message
    Rmin = min_regularizer_svd(product(W), 3)
    if method in ("newton", "svd", "l2"):  # these reach the minimum of R on the fiber (closed orbit)
        assert abs(regularizer(ref.weights) / Rmin - 1) <= 1e-9
    for c in SCALES:
        res = balance(tuple(c * w for w in W), method=method)
        assert res.converged, (c, res.message)
        assert _rel([w / c for w in res.weights], ref.weights) <= 1e-8, c


@settings(max_examples=5, deadline=None)
@given(pair=dst.rescaled_weights((2, 2, 2, 2)))
def test_flows_rescale(pair):
    Wc, c = pair
    W = tuple(w / c for w in Wc)
    l2c, l2 = l2_flow(Wc, 0.7), l2_flow(W, 0.7)
    assert _rel([w / c for w in l2c.weights], l2.weights) <= 1e-8
    assert l2c.reached_t_final == l2.reached_t_final
    # moment flow: degree 3 in W, so the time rescales by c^-2
    mc, m = moment_flow(Wc, 0.7 / c**2), moment_flow(W, 0.7)
    assert mc.reached_t_final and m.reached_t_final, mc.message
    assert _rel([w / c for w in mc.weights], m.weights) <= 1e-8
    np.testing.assert_allclose(mc.times[-1] * c**2, 0.7, rtol=1e-14)
    fc, f = l2_flow_finite_time(Wc), l2_flow_finite_time(W)
    assert fc.converged == f.converged
    assert _rel([w / c for w in fc.weights], f.weights) <= 1e-8


def test_moment_flow_time_that_overflows_is_a_clear_error():
    W = tuple(1e150 * w for w in dg.random_weights((2, 2, 2), rng=1))
    with pytest.raises(ValueError, match="t_final"):
        moment_flow(W, 1e10)


# ---------------------------------------------------------------------------------------------
# 3. budgets on ill-conditioned X
# ---------------------------------------------------------------------------------------------


def test_hopeless_flow_balancing_stops_on_the_forecast():
    """cond X = 1e10 with a budget of 300 steps: the observed decay of ``||mu||`` forecasts more
    than ten times the steps left, so the run stops before the budget is used up. (With the
    default budget the stiff moment integrator balances this instance; the explicit one that
    preceded it could not, which is what this test used to show without a budget.)"""
    W = conditioned_instance((2, 2, 2), 1e10, seed=0)[0]
    res = balance(W, method="moment", max_iter=300)
    assert not res.converged and "budget" in res.message, res.message
    assert res.iterations < 300
    _check_balanced_on_fiber(W, res, 1e-12)
    full = balance(W, method="moment")
    assert full.converged, full.message
    _check_balanced_on_fiber(W, full, 1e-12)


def test_flow_balancing_respects_the_step_budget():
    W = conditioned_instance((3, 3, 3, 3), 1e16, seed=0)[0]
    res = balance(W, method="l2", max_iter=200)
    assert not res.converged and ("budget" in res.message or "200 steps" in res.message), res.message
    assert res.iterations <= 200


# ---------------------------------------------------------------------------------------------
# 4. options are validated, errors name the argument
# ---------------------------------------------------------------------------------------------

W3 = dg.random_weights((2, 2, 2), rng=3)
BAD = [
    (lambda **k: balance(W3, **k), "method", "newtn"), (lambda **k: balance(W3, **k), "tol", 0.0),
    (lambda **k: balance(W3, **k), "tol", float("nan")), (lambda **k: balance(W3, **k), "max_iter", 0),
    (lambda **k: balance(W3, **k), "max_iter", 2.5),
    (lambda **k: l2_flow(W3, 1.0, **k), "rtol", 2.0), (lambda **k: l2_flow(W3, 1.0, **k), "atol", -1.0),
    (lambda **k: l2_flow(W3, 1.0, **k), "space", "both"), (lambda **k: l2_flow(W3, 1.0, **k), "record", "all"),
    (lambda **k: l2_flow(W3, 1.0, **k), "max_steps", 0), (lambda **k: l2_flow(W3, 1.0, **k), "step", 2.0),
    (lambda **k: l2_flow(W3, 1.0, **k), "mu_tol", -1.0), (lambda **k: l2_flow(W3, 1.0, **k), "t_eval", [2.0]),
    (lambda **k: moment_flow(W3, **k), "t_final", float("inf")),
    (lambda **k: moment_flow(W3, 1.0, **k), "method", "rk4"),
    (lambda **k: l2_flow_finite_time(W3, **k), "s_final", 0.7),
    (lambda **k: l2_flow_finite_time(W3, **k), "s_eval", [0.6]),
]


@pytest.mark.parametrize(("call", "name", "value"), BAD, ids=[f"{n}={v!r}" for _, n, v in BAD])
def test_bad_options_name_the_argument(call, name, value):
    with pytest.raises((ValueError, TypeError), match=name):
        call(**{name: value})


def test_check_time_grid_keeps_its_name():
    from dln_git.flows.runner import check_time_grid

    assert check_time_grid(2.0, [0.5, 1.0], 1e-8)[0] == 2.0
    with pytest.raises(ValueError, match="rtol"):
        check_time_grid(2.0, None, 1.5)


# ---------------------------------------------------------------------------------------------
# 5. converged means the requested tolerance was reached
# ---------------------------------------------------------------------------------------------


def test_converged_means_mu_tol_reached():
    W = conditioned_instance((3, 3, 3), 3.0, seed=1)[0]
    plain = l2_flow(W, 1.0)
    assert plain.reached_t_final and not plain.converged
    R = regularizer(W)
    stopped = l2_flow(W, 30.0, mu_tol=1e-9 * R)
    assert stopped.converged and not stopped.reached_t_final
    assert tnorm(moment(stopped.weights)) <= 1e-9 * R
    short = moment_flow(W, 0.1, mu_tol=1e-9 * R)
    assert short.reached_t_final and not short.converged
    assert tnorm(moment(short.weights)) > 1e-9 * R


def test_finite_time_converged_only_at_the_limit_of_a_closed_orbit():
    closed = conditioned_instance((3, 3, 3), 3.0, seed=2)[0]
    assert l2_flow_finite_time(closed).converged
    part = l2_flow_finite_time(closed, s_final=0.3)
    assert part.reached_t_final and not part.converged
    open_ = dg.random_weights((1, 2, 2), rng=2)
    res = l2_flow_finite_time(open_)
    assert not res.converged and "not closed" in res.message


# ---------------------------------------------------------------------------------------------
# 6. results never share memory with the input
# ---------------------------------------------------------------------------------------------

EARLY = {
    "depth1": (np.ones((2, 3)),),
    "zero": (np.zeros((2, 2)), np.zeros((2, 2))),
    "balanced": tuple(w.copy() for w in dg.balanced_from_end_to_end(np.diag([2.0, 1.0]), (2, 2, 2))),
}


@pytest.mark.parametrize("name", list(EARLY))
def test_results_are_copies(name):
    W = EARLY[name]
    outs = [balance(W, method=m).weights for m in METHODS]
    outs += [f(W).weights for f in (lambda w: l2_flow(w, 0.5), lambda w: moment_flow(w, 0.5), l2_flow_finite_time)]
    outs.append(scalar_prebalance(W))
    for out in outs:
        for a, b in zip(out, W, strict=True):
            assert not np.shares_memory(a, b)


# ---------------------------------------------------------------------------------------------
# unbalanced gauges (1e8 / 1 / 1e-8): Newton still reaches the minimum of R
# ---------------------------------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(W=dst.unbalanced_weights((3, 3, 3, 3)))
def test_newton_on_unbalanced_weights(W):
    res = balance(W)
    assert res.converged, res.message
    _check_balanced_on_fiber(W, res, 1e-12)
    assert abs(regularizer(res.weights) / min_regularizer_svd(product(W), 3) - 1) <= 1e-8


@pytest.mark.parametrize("c", SCALES)
def test_geometric_mean_oracle_rescales(c):
    from dln_git.flows import geometric_mean_balance

    W = conditioned_instance((3, 3, 3), 3.0, seed=5)[0]
    ref = geometric_mean_balance(W)
    assert tnorm(moment(ref.weights)) <= 1e-12 * regularizer(ref.weights)
    res = geometric_mean_balance(tuple(c * w for w in W))
    assert _rel([w / c for w in res.weights], ref.weights) <= 1e-12
    assert _rel([res.H], [ref.H]) <= 1e-12
