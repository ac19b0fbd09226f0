"""The stiff integrator of the moment flow (``dln_git.flows.rosenbrock``) and progress feedback.

Checked against independent computations: the dense ``solve_ivp`` reference
(``dln_git.testing.dense_flows``, dense action matrices formed at every evaluation), the explicit
RKMK-DP5(4) scheme at a tight tolerance, central finite differences of the moment map (plain
numpy, :mod:`flow_helpers`) for the stage Jacobian, ``numpy.linalg.solve`` for GMRES, and the
closed-form decay of ``||mu||`` along ``t -> c(t) W`` for the progress forecast.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from flow_helpers import (
    conditioned_instance,
    loglog_slope,
    moment,
    product,
    regime_instances,
    regularizer,
    rel_diff,
    tnorm,
    x_drift,
)

from dln_git.flows import balance, moment_flow
from dln_git.flows.progress import FlowProgress, quiet, shows_progress
from dln_git.flows.rosenbrock import _StackedStageSystem, gmres, stage_system
from dln_git.testing.dense_flows import dense_moment_flow

CASES = regime_instances()


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "non-closed(1, 2, 2)", "funnel(4, 3, 2, 1)", "complex(2,3,2)"])
def test_trajectory_matches_dense_reference(name):
    W = CASES[name]
    times = np.array([0.0, 0.3, 1.0, 2.0])
    res = moment_flow(W, times[-1], t_eval=times[1:], method="rosenbrock", rtol=1e-10, record="weights")
    ref = dense_moment_flow(W, times, rtol=1e-10, atol=1e-12)
    assert res.reached_t_final and ref.success, res.message
    assert res.method == "rosenbrock"
    assert max(rel_diff(a, b) for a, b in zip(res.trajectory, ref.weights, strict=True)) <= 1e-7
    assert max(x_drift(Wt, product(W)) for Wt in res.trajectory) <= 1e-13


def test_order_four_with_fixed_steps():
    """Fixed steps T/n: the error at T against DOP853 (rtol 1e-13) falls like h^4.

    Measured error ratios per halving 12.8 and 14.2 (tending to 16; an order-3 scheme gives 8).
    """
    W = CASES["closed(3, 3, 3)"]
    T = 1.0
    ref = dense_moment_flow(W, np.array([0.0, T]), method="DOP853", rtol=1e-13, atol=1e-15).weights[-1]
    hs, errs = [], []
    for n in (16, 32, 64):
        res = moment_flow(W, T, method="rosenbrock", step=T / n, rtol=1e-12)
        assert res.reached_t_final, res.message
        hs.append(T / n)
        errs.append(rel_diff(res.weights, ref))
    assert min(errs) > 1e-12  # still above the reference's own error
    assert 3.5 <= loglog_slope(hs, errs) <= 4.6, (errs, loglog_slope(hs, errs))


@pytest.mark.parametrize("seed", [0, 1])
def test_balance_reaches_the_limit_of_the_dense_reference(seed):
    """balance(method="moment") ends at the flow's own limit, not at another balanced point.

    Reference: ``solve_ivp`` (DOP853, rtol 1e-12) run to t = 300, where ``||mu|| / R <= 3e-13``.
    Bound 1e-8 = 100 tol: the stopping rule ``||mu|| <= tol R`` leaves a gauge displacement of
    order ``tol R / lambda_min``, and the integration error is about ``0.06 * 100 tol`` (see
    :func:`dln_git.flows.balance.moment_rtol`); measured 1.6e-10 and 2.8e-10. Other balanced
    points of the fiber (the K-orbit) lie at distance O(1).
    """
    W = conditioned_instance((3, 3, 3, 3), 30.0, seed=seed)[0]
    res = balance(W, method="moment", tol=1e-10)
    assert res.converged, res.message
    ref = dense_moment_flow(W, np.array([0.0, 300.0]), method="DOP853", rtol=1e-12, atol=1e-14).weights[-1]
    assert tnorm(moment(ref)) <= 1e-12 * regularizer(ref)
    assert rel_diff(res.weights, ref) <= 1e-8
    assert x_drift(res.weights, product(W)) <= 1e-13


def test_balance_reaches_the_limit_of_the_dense_reference_complex():
    """The same on complex weights (reference run to t = 60, ``||mu|| / R <= 1e-12``; measured 9e-11)."""
    W = conditioned_instance((2, 3, 3, 2), 3.0, seed=3, cplx=True)[0]
    res = balance(W, method="moment", tol=1e-10)
    assert res.converged, res.message
    ref = dense_moment_flow(W, np.array([0.0, 60.0]), method="DOP853", rtol=1e-12, atol=1e-14).weights[-1]
    assert tnorm(moment(ref)) <= 1e-12 * regularizer(ref)
    assert rel_diff(res.weights, ref) <= 1e-8


def test_step_count_does_not_grow_with_the_conditioning():
    """cond X from 1e2 to 1e8 (N = 2: the rates spread by 1e6): the step count stays flat.

    The explicit scheme needs steps in proportion to ``s_max / s_min`` here (about 4e3 steps at
    cond X = 1e4 on this instance, and its budget forecast gives up beyond).
    """
    steps = []
    for cond in (1e2, 1e8):
        W = conditioned_instance((3, 3, 3), cond, seed=1)[0]
        res = balance(W, method="moment", tol=1e-10)
        assert res.converged, res.message
        assert tnorm(moment(res.weights)) <= 1e-10 * regularizer(res.weights)
        steps.append(res.iterations)
    assert steps[1] <= 1.5 * steps[0], steps


def _finite_difference_jacobian(W, v, h=1e-5):
    """``d/de [-mu(exp(e v).W) + [e v, mu(exp(e v).W)] / 2]`` at e = 0, by central differences."""

    def field(e):
        g = [scipy.linalg.expm(e * x) for x in v]
        ginv = [np.linalg.inv(m) for m in g]
        N = len(W)
        Wt = [(g[i] if i < N - 1 else np.eye(W[i].shape[0])) @ W[i] @ (ginv[i - 1] if i > 0 else np.eye(W[i].shape[1]))
              for i in range(N)]
        mu = moment(Wt)
        return [-m + 0.5 * e * (x @ m - m @ x) for m, x in zip(mu, v, strict=True)]

    plus, minus = field(h), field(-h)
    return [(a - b) / (2 * h) for a, b in zip(plus, minus, strict=True)]


@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("widths", [(3, 4, 4, 3), (4, 4, 4, 4)])
def test_stage_solve_against_finite_differences(cplx, widths):
    """``(sigma I - J) g = r`` solved in the frames; the residual is checked with J from finite differences.

    ``(4, 4, 4, 4)`` takes the stacked (batched) path, ``(3, 4, 4, 3)`` the layer loop.
    """
    rng = np.random.default_rng(7)
    W = conditioned_instance(widths, 5.0, seed=2, cplx=cplx)[0]
    shapes = [(d, d) for d in widths[1:-1]]
    r = tuple(rng.standard_normal(s) + (1j * rng.standard_normal(s) if cplx else 0) for s in shapes)
    system = stage_system(W, moment(W))
    assert isinstance(system, _StackedStageSystem) == (widths[0] == widths[-1] == 4)
    system.sigma = 0.7
    g, _, res = system.solve(r, rtol=1e-13)
    assert res <= 1e-12
    Jg = _finite_difference_jacobian(W, g)
    lhs = [system.sigma * a - b for a, b in zip(g, Jg, strict=True)]
    assert tnorm([a - b for a, b in zip(lhs, r, strict=True)]) <= 1e-7 * tnorm(r)


def test_gmres_against_a_dense_solve():
    rng = np.random.default_rng(3)
    A = np.eye(40) * 4 + rng.standard_normal((40, 40)) / 3
    b = rng.standard_normal(40)
    d = np.diag(A).copy()
    x, it, res = gmres(lambda v: A @ v, b, lambda v: v / d, rtol=1e-12)
    assert res <= 1e-12 and it <= 40
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=0, atol=1e-10 * np.linalg.norm(x))


# ---------------------------------------------------------------------------------------------
# progress feedback
# ---------------------------------------------------------------------------------------------


def test_progress_is_silent_by_default_under_pytest(capfd):
    W = conditioned_instance((3, 3, 3), 10.0, seed=0)[0]
    assert not shows_progress(None)  # stderr is captured, not a terminal
    balance(W, method="moment", tol=1e-8)
    moment_flow(W, 1.0, method="rosenbrock")
    assert capfd.readouterr().err == ""


def test_progress_true_writes_a_bar_and_false_nothing(capfd):
    W = conditioned_instance((3, 3, 3), 10.0, seed=0)[0]
    res = balance(W, method="moment", tol=1e-8, progress=True)
    assert res.converged
    assert "moment flow" in capfd.readouterr().err
    balance(W, method="moment", tol=1e-8, progress=False)
    assert capfd.readouterr().err == ""
    with quiet():
        assert not shows_progress(None)
        assert shows_progress(True)


@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_progress_option_is_validated(bad):
    W = conditioned_instance((3, 3, 3), 10.0, seed=0)[0]
    with pytest.raises(TypeError, match="progress"):
        balance(W, method="moment", progress=bad)
    with pytest.raises(TypeError, match="progress"):
        moment_flow(W, 1.0, progress=bad)


def test_progress_forecast_on_an_exact_geometric_decay(capfd):
    """Along ``W_k = q^{k/2} W`` the moment map scales by ``q^k``: the forecast is ``log(mu_k / target) / log(1/q)``."""
    W = conditioned_instance((3, 3, 3), 10.0, seed=0)[0]
    mu0 = tnorm(moment(W))
    q, target = 0.8, 1e-6 * mu0
    bar = FlowProgress(True, desc="test", target=target)
    for k in range(30):
        bar(float(k), tuple(np.sqrt(q) ** k * w for w in W))
    bar.close()
    capfd.readouterr()
    expected = np.log(q**29 * mu0 / target) / np.log(1 / q)
    assert bar.forecast() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("c", [1e-120, 3.0, 1e120])
def test_balance_moment_is_scale_equivariant(c):
    """The balanced points of ``cW`` are c times those of W (the flow is homogeneous of degree 3).

    The runs see normalised weights differing by at most a factor in [1/2, 2] (powers of two
    are taken out exactly); the first step comes from the speed and the error control is
    relative, so the step sequences are scale-equivariant too and the results agree to the
    rounding accumulated over a few hundred steps (measured 4e-14 at c = 1e-120, 1e120 and 3).
    """
    W = conditioned_instance((3, 3, 3, 3), 10.0, seed=4)[0]
    base = balance(W, method="moment", tol=1e-10)
    scaled = balance(tuple(c * w for w in W), method="moment", tol=1e-10)
    assert base.converged and scaled.converged, scaled.message
    assert rel_diff([w / c for w in scaled.weights], base.weights) <= 1e-11
    assert scaled.x_drift <= 1e-13


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_batched_exponential_action_against_scipy(scale):
    """``act_exp_fast`` (batched Padé) against ``scipy.linalg.expm`` layer by layer; X kept to rounding.

    Generators of 1-norm up to about 3 (the stepper caps them at 20, where cond(exp) reaches e^40).
    """
    from dln_git.flows.rosenbrock import act_exp_fast

    rng = np.random.default_rng(11)
    W = conditioned_instance((4, 4, 4, 4), 10.0, seed=5)[0]
    theta = tuple(scale * rng.standard_normal((4, 4)) / 4 for _ in range(2))
    out = act_exp_fast(W, theta)
    g = [scipy.linalg.expm(t) for t in theta]
    ref = (g[0] @ W[0], g[1] @ W[1] @ np.linalg.inv(g[0]), W[2] @ np.linalg.inv(g[1]))
    assert rel_diff(out, ref) <= 1e-12
    assert x_drift(out, product(W)) <= 1e-13
