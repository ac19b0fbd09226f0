"""The eighth-order gauge scheme ``method="group8"`` of the L2 flows (``dln_git.flows.rkmk8``).

Checked against independent computations: the dense ``solve_ivp`` reference (DOP853 on the
flattened weights, rtol 1e-13, its own Gram matrices), the closed form
``mu(W(s)) = (1 - 2s) mu_0`` of the finite-time form, the fifth-order scheme's limit, and the
series of ``dexp^{-1}`` against a finite-difference derivative of the matrix exponential.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from flow_helpers import gaussian_weights, loglog_slope, mu_identity_error, product, rel_diff, x_drift

from dln_git.flows import balance, l2_flow, l2_flow_finite_time
from dln_git.flows.rkmk8 import dexpinv8
from dln_git.testing.dense_flows import dense_l2_flow

T = 1.0
DIVISIONS = np.array([2, 3, 4, 6])


def test_dexpinv8_inverts_the_derivative_of_exp():
    """``dexp_theta(dexp^{-1}_theta(F)) = F`` up to ``O(||theta||^7)``, with ``dexp_theta(G) =
    d/de exp(theta + e G) exp(-theta)`` taken by central differences of scipy's expm."""
    rng = np.random.default_rng(0)
    errors = []
    for r in (0.2, 0.1):
        theta = (r * rng.standard_normal((4, 4)),)
        F = (rng.standard_normal((4, 4)),)
        G = dexpinv8(theta, F)[0]
        e = 1e-6
        dexp = (sl.expm(theta[0] + e * G) - sl.expm(theta[0] - e * G)) / (2 * e) @ sl.expm(-theta[0])
        errors.append(np.linalg.norm(dexp - F[0]) / np.linalg.norm(F[0]))
        rng = np.random.default_rng(0)  # the same directions at half the size
    assert errors[0] <= 1e-5
    # seventh-order remainder: halving theta divides it by 2^7 = 128 (finite differences: 1e-9)
    assert errors[1] <= errors[0] / 60 + 1e-9, errors


@pytest.mark.parametrize("widths", [(2, 3, 2), (2, 3, 3, 2)])
def test_group8_is_eighth_order(widths):
    W = gaussian_weights(widths, np.random.default_rng(1))
    ref = dense_l2_flow(W, np.array([0.0, T]), space="orbit", method="DOP853", rtol=1e-13, atol=1e-15)
    assert ref.success, ref.message
    errs = []
    for n in DIVISIONS:
        res = l2_flow(W, T, space="orbit", method="group8", step=T / n)
        assert res.method == "group8" and res.reached_t_final and res.steps == n, res.message
        assert x_drift(res.weights, product(W)) <= 1e-13
        errs.append(rel_diff(res.weights, ref.weights[-1]))
    errs = np.array(errs)
    assert np.all(np.diff(errs) < 0), errs
    slope = loglog_slope(T / DIVISIONS, errs)
    assert slope >= 7.5, (slope, errs)


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 4, 3, 3), (4, 4, 4, 4, 4)])
def test_group8_finite_time_keeps_mu_exact_and_reaches_the_limit(widths):
    """``mu(W(s)) = (1 - 2s) mu_0`` at every recorded s to 1e-9 (relative), X to 1e-13, and the
    limit equals the fifth-order scheme's (two schemes, one limit) to 1e-9."""
    W = gaussian_weights(widths, np.random.default_rng(2))
    s_eval = np.array([0.1, 0.25, 0.4, 0.49, 0.5])
    res = l2_flow_finite_time(W, method="group8", rtol=1e-11, s_eval=s_eval, record="weights")
    assert res.converged and res.method == "group8", res.message
    assert mu_identity_error(W, res.times, res.trajectory, lambda s: 1 - 2 * s) <= 1e-9
    assert max(x_drift(w, product(W)) for w in res.trajectory) <= 1e-13
    five = l2_flow_finite_time(W, method="group", rtol=1e-11)
    assert rel_diff(res.weights, five.weights) <= 1e-9
    assert res.evaluations < five.evaluations


def test_balance_l2_limit_unchanged_and_mu_rate():
    """balance(method="l2") (now the eighth-order scheme) against the fifth-order finite-time limit;
    the L2 flow in t keeps ``||mu(t)|| = e^{-2t} ||mu_0||`` to 1e-9."""
    W = gaussian_weights((5, 5, 5, 5), np.random.default_rng(3))
    bal = balance(W, method="l2", tol=1e-10)
    assert bal.converged, bal.message
    five = l2_flow_finite_time(W, method="group", rtol=1e-12)
    assert rel_diff(bal.weights, five.weights) <= 1e-9
    t_eval = np.array([0.25, 0.5, 1.0, 2.0])
    run = l2_flow(W, 2.0, method="group8", rtol=1e-11, t_eval=t_eval)
    mu0 = run.mu_norm[0]
    rates = run.mu_norm[1:] / (mu0 * np.exp(-2 * run.times[1:]))
    assert np.max(np.abs(rates - 1)) <= 1e-9, rates


def test_solver_iterations_reported():
    """``FlowResult.solver_iterations`` is the sum of the PCG iterations of the Gram solves
    (counted independently by wrapping GramOperator.solve), for both schemes and at any scale."""
    from dln_git.core.gram import GramOperator

    W = gaussian_weights((3, 3, 3, 3), np.random.default_rng(5))
    original = GramOperator.solve
    for method in ("group", "group8"):
        count = [0, 0]

        def solve(op, *args, _count=count, **kwargs):
            _count[1] += 1
            sol = original(op, *args, **kwargs)
            if _count[1] == 1:  # only the outermost call (a solve may delegate to its frames)
                _count[0] += sol.iterations
            _count[1] -= 1
            return sol

        GramOperator.solve = solve
        try:
            res = l2_flow_finite_time(tuple(1e120 * w for w in W), method=method, rtol=1e-10)
        finally:
            GramOperator.solve = original
        assert res.converged, res.message
        assert res.solver_iterations == count[0] > 0


def test_stage_warm_starts_change_iterations_not_the_flow(monkeypatch):
    """The extrapolated warm starts of the stage solves leave the trajectory unchanged (to the
    inner solves' tolerance) and save PCG iterations (same instance without them)."""
    import dln_git.flows.fields as fields

    W = gaussian_weights((4, 4, 4, 4, 4), np.random.default_rng(6))
    with_hints = l2_flow_finite_time(W, method="group8", rtol=1e-11)
    monkeypatch.setattr(fields.L2Generator, "suggest", None)
    without = l2_flow_finite_time(W, method="group8", rtol=1e-11)
    assert with_hints.converged and without.converged
    assert with_hints.evaluations == without.evaluations
    assert rel_diff(with_hints.weights, without.weights) <= 1e-10
    assert with_hints.solver_iterations < without.solver_iterations


def _ill_conditioned_chain(widths, cond_x, rng):
    """g.W_bal over X = U diag(logspace(0, -log10 cond_x)) V^T (equal widths), g a random gauge."""
    import dln_git as dg

    d = widths[0]
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (U * np.logspace(0, -np.log10(cond_x), d)) @ V.T
    Wb = dg.balanced_from_end_to_end(X, widths)
    g = [sl.expm(0.1 * rng.standard_normal((d, d))) for _ in widths[1:-1]]
    return dg.gauge_act(g, Wb), X


def test_closed_in_float64():
    """cond(X) = 1e12 (beyond the regime's 1e10 rank test) with every hidden width the generic
    rank: the orbit is closed, the L2 balance runs the orbit flow and reaches R = Rmin (SVD
    closed form); an X with an exactly zero singular value stays not closed."""
    import dln_git as dg
    from dln_git.core.regime import regime
    from dln_git.flows.l2 import closed_in_float64

    rng = np.random.default_rng(8)
    W, X = _ill_conditioned_chain((4,) * 5, 1e12, rng)
    assert np.linalg.cond(X) > 1e11
    reg = regime(W)
    assert not reg.orbit_closed and closed_in_float64(W, reg)
    bal = balance(W, method="l2", tol=1e-10)
    assert bal.converged, bal.message
    assert "orbit not closed" not in bal.message, bal.message
    s = np.linalg.svd(X, compute_uv=False)
    r_min = 0.5 * 4 * np.sum(s ** (2 / 4))
    assert abs(dg.regularizer(bal.weights) / r_min - 1) <= 1e-9
    W0 = list(W)
    W0[0] = W0[0].copy()
    W0[0][-1] = 0.0  # rank W_1 = 3: X of rank 3 exactly
    assert not closed_in_float64(tuple(W0), regime(tuple(W0)))
    wide = dg.random_weights((2, 4, 2), 0)
    assert closed_in_float64(wide, regime(wide)) == regime(wide).orbit_closed
