"""Acceptance tests of the squared-moment-map flow ``dln_git.flows.moment_flow`` (docs/math section 3).

``dW/dt = -A_W(mu(W))``, the gradient flow of ``||mu||^2 / 4``. Checked against the dense
``solve_ivp`` reference, the closed-form moment map and end-to-end product, and the asymptotic
rate ``4 (1 - cos(pi/N)) s_min(X)^{2/N}`` on closed equal-width orbits, with s_min prescribed by
construction (X = U diag(s) V^*).
"""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import (
    gaussian_weights,
    mu_norm,
    product,
    regime_instances,
    regularizer,
    rel_diff,
    spectrum_instance,
    x_drift,
)

from dln_git.flows import moment_flow
from dln_git.testing.dense_flows import dense_moment_flow

CASES = regime_instances()


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "non-closed(1, 2, 2)", "funnel(4, 3, 2, 1)",
                                  "complex(2,3,2)", "ill-cond1e6(2,3,3,2)"])
def test_matches_dense_reference(name):
    W = CASES[name]
    times = np.array([0.0, 0.3, 1.0, 2.0])
    res = moment_flow(W, times[-1], t_eval=times[1:], record="weights")
    ref = dense_moment_flow(W, times, rtol=1e-10, atol=1e-12)
    assert res.reached_t_final, res.message
    assert ref.success, ref.message
    errs = [rel_diff(a, b) for a, b in zip(res.trajectory, ref.weights, strict=True)]
    assert max(errs) <= 1e-7, errs
    X0 = product(W)
    assert max(x_drift(Wt, X0) for Wt in res.trajectory) <= 1e-12


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(2, 4, 2)", "non-closed(2, 4, 4, 2)",
                                  "funnel(1, 2, 3, 3)", "complex-funnel(1,2,3,3)"])
def test_squared_moment_norm_is_non_increasing(name):
    """d/dt ||mu||^2 = -4 ||A_W(mu)||^2 <= 0, checked on every accepted step."""
    W = CASES[name]
    res = moment_flow(W, 3.0, record="weights")
    assert res.reached_t_final, res.message
    m2 = np.array([mu_norm(Wt) ** 2 for Wt in res.trajectory])
    assert len(m2) > 10
    assert np.all(np.diff(m2) <= 1e-13 * m2[0])
    assert m2[-1] < 0.5 * m2[0]
    np.testing.assert_allclose(res.mu_norm ** 2, m2, rtol=1e-10, atol=1e-28)


def test_converges_on_closed_orbit():
    W = spectrum_instance((3, 3, 3), [1.5, 1.0, 0.6], seed=3)
    X0 = product(W)
    R0 = regularizer(W)
    res = moment_flow(W, 100.0, rtol=1e-12, mu_tol=1e-10 * R0)
    assert res.converged, res.message
    assert res.times[-1] < 100.0  # stopped by mu_tol, exponentially fast
    assert mu_norm(res.weights) <= 1e-10 * R0
    assert x_drift(res.weights, X0) <= 1e-12
    assert "exponential" in res.message


@pytest.mark.parametrize(
    ("widths", "s"),
    [((2, 2, 2), [1.5, 0.6]), ((3, 3, 3), [1.5, 1.0, 0.6]), ((2, 2, 2, 2), [1.2, 0.8]),
     ((2, 2, 2, 2, 2), [4.0, 0.5])],
)
def test_asymptotic_rate_on_closed_equal_width_orbits(widths, s):
    """Late decay rate of ||mu|| = 4 (1 - cos(pi/N)) s_min(X)^{2/N} (docs/math section 3, [derived])."""
    N = len(widths) - 1
    W = spectrum_instance(widths, s, seed=N)
    s_min = np.linalg.svd(product(W), compute_uv=False).min()
    np.testing.assert_allclose(s_min, min(s), rtol=1e-10)
    rate = 4.0 * (1.0 - np.cos(np.pi / N)) * s_min ** (2.0 / N)
    T = 28.0 / rate
    res = moment_flow(W, T, t_eval=np.linspace(0.0, T, 141)[1:], rtol=1e-10)
    assert res.reached_t_final, res.message
    m, t = res.mu_norm, res.times
    late = (m < 1e-5 * m[0]) & (m > 1e-10 * m[0])
    assert late.sum() >= 10
    fitted = -np.polyfit(t[late], np.log(m[late]), 1)[0]
    assert abs(fitted / rate - 1.0) <= 1e-2, (fitted, rate)


@pytest.mark.parametrize("widths", [(1, 2, 2), (2, 4, 4, 2)])
def test_non_closed_orbit_algebraic_convergence(widths):
    """The message says convergence is algebraic, and ||mu|| ~ C/t is what is measured."""
    W = gaussian_weights(widths, np.random.default_rng(2))
    res = moment_flow(W, 160.0, t_eval=[40.0, 80.0, 160.0])
    assert res.reached_t_final, res.message
    assert "algebraic" in res.message
    assert "exponential" not in res.message
    tm = res.times[1:] * res.mu_norm[1:]
    # t ||mu(t)|| levels off (an exponential would send it to 0, a slower law to infinity)
    assert abs(tm[2] / tm[1] - 1.0) <= 0.05
    assert abs(tm[1] / tm[0] - 1.0) <= 0.1
    assert x_drift(res.weights, product(W)) <= 1e-12


def test_depth_one_is_constant():
    W = CASES["depth1(3,2)"]
    res = moment_flow(W, 1.0, record="weights")
    assert res.reached_t_final
    assert np.array_equal(res.weights[0], W[0])


@pytest.mark.parametrize("kw", [{"t_final": 0.0}, {"t_final": -2.0}, {"rtol": 0.0}, {"method": "group2"},
                                {"t_eval": [2.0]}, {"record": "all"}])
def test_rejects_bad_input(kw):
    args = {"t_final": 1.0, **kw}
    t_final = args.pop("t_final")
    with pytest.raises(ValueError):
        moment_flow(CASES["closed(3, 3, 3)"], t_final, **args)
