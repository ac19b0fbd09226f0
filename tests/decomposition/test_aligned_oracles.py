"""The aligned-mode oracles against an independent high-order ODE solve of the scalar mode
equation, and the two oracle algorithms against each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dln_git.decomposition import aligned_mode, aligned_regression, regularized_moment_map
from dln_git.decomposition.oracles import _mode_by_quadrature


def _reference(s, a0, N, lam, ts):
    def f(_t, a):
        return -N * a ** (2 - 2 / N) * (a - s) - lam * N * a

    return solve_ivp(f, (0, ts[-1]), [a0], t_eval=ts, method="DOP853", rtol=1e-13, atol=1e-15).y[0]


@pytest.mark.parametrize(
    "N, lam, s, a0",
    [(1, 0.3, 1.0, 0.2), (2, 0.0, 2.0, 0.01), (2, 0.5, 0.2, 0.3), (3, 0.0, 2.0, 0.1), (3, 0.1, 1.0, 0.05),
     (4, 0.2, 1.5, 2.5), (5, 0.0, 0.5, 1.0), (3, 0.5, 0.2, 0.3), (4, 0.1, 0.5, 0.3)],
)
def test_mode_matches_a_dop853_solve(N, lam, s, a0):
    ts = np.linspace(0, 15, 31)
    np.testing.assert_allclose(aligned_mode(s, a0, N, ts, lam), _reference(s, a0, N, lam, ts), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_logistic_closed_form_equals_the_quadrature(lam):
    for t in (0.1, 1.0, 4.0):
        assert aligned_mode(2.0, 0.1, 2, t, lam) == pytest.approx(_mode_by_quadrature(0.1, 2.0, 2, lam, t), rel=1e-10)


def test_aligned_problem_is_balanced_whitened_and_aligned():
    rng = np.random.default_rng(0)
    prob = aligned_regression((4, 5, 5, 3), [2.0, 1.0], [0.1, 0.4], rng)
    W = prob.weights
    for i in range(len(W) - 1):
        np.testing.assert_allclose(W[i] @ W[i].T, W[i + 1].T @ W[i + 1], atol=1e-14)
    A = prob.loss.A
    np.testing.assert_allclose(A @ A.T, A.shape[1] * np.eye(4), atol=1e-12)
    X = np.random.default_rng(1).standard_normal((3, 4))
    Y = prob.U @ np.diag(prob.s) @ prob.V.T
    E0 = prob.loss(Y)[0]  # the label noise is a constant: E = 1/2 ||X - Y||^2 + E(Y)
    assert prob.loss(X)[0] == pytest.approx(0.5 * np.linalg.norm(X - Y) ** 2 + E0, rel=1e-12)


def test_regularized_moment_map_and_bad_inputs():
    mu0 = (np.eye(2),)
    np.testing.assert_allclose(regularized_moment_map(mu0, 0.5, 2.0)[0], np.exp(-2.0) * np.eye(2))
    with pytest.raises(ValueError, match="a0"):
        aligned_mode(1.0, -1.0, 2, 1.0)
    with pytest.raises(ValueError, match="modes"):
        aligned_regression((2, 2, 2), [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])


@pytest.mark.parametrize("depth", [3, 5])
@pytest.mark.parametrize("a0", [1e-4, 1e-6, 1e-9])
def test_aligned_mode_from_very_small_starts_against_a_log_variable_ode(depth, a0):
    """The depth-N oracle from a0 <= 1e-5 (it used to miss the 1/f peak at b ~ a0 and return s
    long before the mode got there), against DOP853 on ``d log a / dt = N a^{1-2/N} (s - a)``, which
    keeps the relative accuracy of a tiny a."""
    import scipy.integrate

    s = 1.0
    ts = np.array([0.5, 5.0, 50.0, 200.0, 1000.0, 5000.0])
    sol = scipy.integrate.solve_ivp(lambda t, y: [depth * np.exp(y[0]) ** (1 - 2 / depth) * (s - np.exp(y[0]))],
                                    (0, ts[-1]), [np.log(a0)], t_eval=ts, method="DOP853", rtol=1e-13, atol=1e-13)
    ref = np.exp(sol.y[0])
    np.testing.assert_allclose(aligned_mode(s, a0, depth, ts), ref, rtol=1e-10)
