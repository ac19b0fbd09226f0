"""Acceptance tests of ``dln_git.flows.balance`` and of the Newton identity behind it (docs/math section 2-3).

Balanced points are checked with the closed-form moment map, the minimum
``(N/2) sum s_k^{2/N}`` of R from the SVD of X (for constructed X, from its own factors), the
end-to-end product, and the dense ``solve_ivp`` finite-time reference; the Hessian identity
``d/dt mu(exp(t s).W)|_0 = 2 Herm(A_W^* A_W s)`` with ``expm`` and the dense Gram matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from flow_helpers import (
    conditioned_instance,
    gauge_act,
    gaussian_weights,
    min_regularizer_svd,
    moment,
    mu_norm,
    product,
    regime_instances,
    regularizer,
    rel_diff,
    spectrum_instance,
    tnorm,
    with_end_to_end_cond,
    x_drift,
)

from dln_git.flows import balance
from dln_git.testing import dense
from dln_git.testing.dense_flows import dense_l2_finite_time

CASES = regime_instances()


# ---------------------------------------------------------------------------------------------
# 8. Newton
# ---------------------------------------------------------------------------------------------


def _newton_instance(widths, cond, start, seed):
    """(W, X, Rmin): X of condition number ``cond``; W = g.W_bal or a Gaussian start."""
    N = len(widths) - 1
    if start == "gauge":
        W, X, s = conditioned_instance(widths, cond, seed, gauge_cond=10.0)
        return W, X, 0.5 * N * np.sum(s ** (2.0 / N))
    rng = np.random.default_rng(seed)
    W = with_end_to_end_cond(gaussian_weights(widths, rng), cond, rng)
    X = product(W)
    np.testing.assert_allclose(np.linalg.cond(X), cond, rtol=1e-6)
    return W, X, min_regularizer_svd(X, N)


def _newton_params():
    for widths in [(8, 8, 8), (5, 8, 5), (4, 4, 4, 4, 4), (3, 6, 3, 5, 3)]:
        for cond in (1e3, 1e6):
            for start in ("gauge", "gaussian"):
                seed = 3
                yield pytest.param(widths, cond, start, seed,
                                   id=f"{widths}-{cond:g}-{start}")


@pytest.mark.parametrize(("widths", "cond", "start", "seed"), list(_newton_params()))
def test_newton_closed_orbit(widths, cond, start, seed):
    W, X, Rmin = _newton_instance(widths, cond, start, seed)
    res = balance(W, method="newton")
    Wb = res.weights
    assert res.converged, res.message
    assert res.method == "newton"
    assert mu_norm(Wb) <= 1e-12 * regularizer(Wb)
    assert abs(regularizer(Wb) / Rmin - 1.0) <= 1e-10
    assert x_drift(Wb, X) <= 1e-12
    assert res.x_drift <= 1e-12
    assert res.mu_history[-1] <= 1e-12 * regularizer(Wb) * (1 + 1e-6)
    assert res.iterations <= 10, res.mu_history


@pytest.mark.parametrize("name", ["excess-closed(2, 4, 2)", "excess-closed(3, 1, 3)"])
def test_newton_excess_width_closed(name):
    W = CASES[name]
    X = product(W)
    res = balance(W, method="newton")
    assert res.converged, res.message
    assert mu_norm(res.weights) <= 1e-12 * regularizer(res.weights)
    assert abs(regularizer(res.weights) / min_regularizer_svd(X, len(W)) - 1.0) <= 1e-10
    assert x_drift(res.weights, X) <= 1e-12


@pytest.mark.parametrize("name", ["non-closed(2, 4, 4, 2)", "non-closed(1, 2, 2)", "non-closed(2, 3, 4, 3)"])
def test_newton_non_closed(name):
    """Either converged, or not converged with the reason (linear convergence / orbit closure)."""
    W = CASES[name]
    X = product(W)
    res = balance(W, method="newton")
    if res.converged:
        assert mu_norm(res.weights) <= 1e-12 * regularizer(res.weights)
    else:
        msg = res.message.lower()
        assert "linear" in msg or "closure" in msg or "not closed" in msg, res.message
    assert mu_norm(res.weights) <= 1e-3 * mu_norm(W)
    assert res.mu_history[-1] <= 1e-3 * res.mu_history[0]
    assert x_drift(res.weights, X) <= 1e-12
    # R goes down towards the fiber minimum, never below it
    Rmin = min_regularizer_svd(X, len(W))
    assert Rmin * (1 - 1e-12) <= regularizer(res.weights) < regularizer(W)


# ---------------------------------------------------------------------------------------------
# 9. The other methods, X kept, input validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(2, 4, 2)", "non-closed(2, 4, 4, 2)",
                                  "funnel(4, 3, 2, 1)", "rank-deficient(3,3,3)", "ill-cond1e8(3,3,3)",
                                  "complex(2,3,2)", "complex-funnel(1,2,3,3)"])
def test_svd_chart_is_balanced_with_minimum_regularizer(name):
    W = CASES[name]
    X = product(W)
    res = balance(W, method="svd")
    Wb = res.weights
    assert res.converged, res.message
    assert mu_norm(Wb) <= 1e-12 * regularizer(Wb)
    assert abs(regularizer(Wb) / min_regularizer_svd(X, len(W)) - 1.0) <= 1e-12
    assert x_drift(Wb, X) <= 1e-12
    assert np.iscomplexobj(Wb[0]) == np.iscomplexobj(W[0])


@pytest.mark.parametrize("name", ["closed(3, 3, 3)", "excess-closed(2, 4, 2)"])
def test_l2_balance_is_the_finite_time_limit(name):
    W = CASES[name]
    X = product(W)
    res = balance(W, method="l2")
    ref = dense_l2_finite_time(W, np.array([0.0, 0.5]), rtol=1e-11, atol=1e-13)
    assert ref.success, ref.message
    assert rel_diff(res.weights, ref.weights[-1]) <= 1e-8
    assert mu_norm(res.weights) <= 1e-10 * regularizer(res.weights)
    assert abs(regularizer(res.weights) / min_regularizer_svd(X, len(W)) - 1.0) <= 1e-10
    assert x_drift(res.weights, X) <= 1e-12


def test_l2_balance_converges_at_default_tol_on_closed_orbit():
    W = CASES["excess-closed(2, 4, 2)"]
    res = balance(W, method="l2")
    assert res.converged, res.message
    assert mu_norm(res.weights) <= 1e-12 * regularizer(res.weights)


@pytest.mark.parametrize("method", ["newton", "l2", "moment", "svd"])
def test_every_method_keeps_x(method):
    W = spectrum_instance((3, 3, 3), [1.5, 1.0, 0.6], seed=5)
    X = product(W)
    tol = 1e-6
    res = balance(W, method=method, tol=tol)
    assert res.converged, res.message
    assert res.method == method
    assert mu_norm(res.weights) <= 1.01 * tol * regularizer(res.weights)
    assert x_drift(res.weights, X) <= 1e-12
    assert res.x_drift <= 1e-12
    assert res.x_drift == pytest.approx(x_drift(res.weights, X), abs=1e-15)
    assert regularizer(res.weights) >= min_regularizer_svd(X, len(W)) * (1 - 1e-12)


def test_moment_balance_reaches_a_tight_tolerance_on_a_closed_orbit():
    W = spectrum_instance((2, 2, 2), [1.5, 0.6], seed=5)
    res = balance(W, method="moment", tol=1e-10, max_iter=800)
    assert res.converged, res.message
    assert mu_norm(res.weights) <= 1e-10 * regularizer(res.weights)


def test_l2_balance_converges_on_non_closed_orbit():
    W = gaussian_weights((1, 2, 2), np.random.default_rng(121))
    W = (10.0 * W[0], W[1] / 10.0)
    res = balance(W, method="l2")
    assert res.converged, res.message
    assert mu_norm(res.weights) <= 1e-12 * regularizer(res.weights)


def test_depth_one():
    W = CASES["depth1(3,2)"]
    for method in ("newton", "l2", "moment", "svd"):
        res = balance(W, method=method)
        assert res.converged
        assert np.array_equal(res.weights[0], W[0])


@pytest.mark.parametrize("kw", [{"method": "gradient"}, {"method": "SVD"}, {"tol": 0.0}, {"tol": -1e-12},
                                {"tol": np.nan}, {"tol": np.inf}, {"max_iter": 0}])
def test_rejects_bad_input(kw):
    with pytest.raises(ValueError):
        balance(CASES["closed(3, 3, 3)"], **kw)


# ---------------------------------------------------------------------------------------------
# 10. Newton's Hessian identity, by central differences
# ---------------------------------------------------------------------------------------------


def _exp_action(W, s, t):
    """exp(t s).W with g_i = expm(t s_i)."""
    return gauge_act(W, [scipy.linalg.expm(t * m) for m in s])


def _random_direction(widths, rng, cplx, hermitian):
    out = []
    for n in widths[1:-1]:
        M = rng.standard_normal((n, n))
        if cplx:
            M = M + 1j * rng.standard_normal((n, n))
        out.append(0.5 * (M + M.conj().T) if hermitian else M)
    return out


@pytest.mark.parametrize(("widths", "cplx", "hermitian"),
                         [((2, 3, 2), False, True), ((2, 3, 4, 2), False, True), ((3, 2, 1), False, True),
                          ((2, 2, 3), True, True), ((1, 2, 3, 3), True, True), ((2, 3, 4, 2), False, False)])
def test_hessian_identity(widths, cplx, hermitian):
    """d/dt mu(exp(t s).W)|_0 = 2 Herm(A_W^* A_W s) (holds for every s; the Newton step uses Hermitian s)."""
    rng = np.random.default_rng(len(widths) + 7 * cplx)
    W = gaussian_weights(widths, rng, cplx=cplx)
    s = _random_direction(widths, rng, cplx, hermitian)
    h = 1e-5
    plus, minus = moment(_exp_action(W, s, h)), moment(_exp_action(W, s, -h))
    fd = [(p - m) / (2 * h) for p, m in zip(plus, minus, strict=True)]
    shapes = [(n, n) for n in widths[1:-1]]
    G = dense.dense_gram(W)
    Gs = dense.unflatten(G @ dense.flatten(s), shapes)
    predicted = [M + M.conj().T for M in Gs]  # 2 Herm(A^* A s)
    assert tnorm([a - b for a, b in zip(fd, predicted, strict=True)]) <= 1e-7 * tnorm(predicted)
    # the Herm matters: A^*A s itself is not Hermitian for a generic direction
    assert tnorm([2 * M - P for M, P in zip(Gs, predicted, strict=True)]) > 1e-3 * tnorm(predicted)


# ---------------------------------------------------------------------------------------------
# 11. Newton internals: pair oracle, line search, Taylor full step, forcing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape_a", "shape_b", "cplx"), [((4, 4), (4, 4), False), ((3, 5), (6, 3), False),
                                                          ((3, 3), (3, 3), True)])
def test_pair_balance_is_the_geometric_mean_oracle(shape_a, shape_b, cplx):
    """(g A, B g^{-1}) balanced, B A kept, R = ||B A||_* (the minimum over the pair's orbit)."""
    from dln_git.flows.newton_start import _pair_balance

    rng = np.random.default_rng(11)
    A, B = gaussian_weights((shape_a[1], shape_a[0], shape_b[0]), rng, cplx=cplx)
    A2, B2 = _pair_balance(A, B)
    assert tnorm(moment((A2, B2))) <= 1e-12 * regularizer((A2, B2))
    assert rel_diff([B2 @ A2], [B @ A]) <= 1e-13
    assert regularizer((A2, B2)) == pytest.approx(np.linalg.norm(B @ A, "nuc"), rel=1e-12)


def test_pair_balance_rejects_singular_pairs():
    from dln_git.flows.newton_start import _pair_balance

    A, B = gaussian_weights((3, 3, 3), np.random.default_rng(2))
    A = A.copy()
    A[2] = A[0] + A[1]  # rank 2
    with pytest.raises((ValueError, np.linalg.LinAlgError)):
        _pair_balance(A, B)


def test_line_search_finds_the_minimiser_of_r_along_the_geodesic():
    from dln_git.flows.lie_group import hermitian_eig
    from dln_git.flows.newton import _eigen_coordinates, _geodesic_point, _line_search

    W, _, _ = conditioned_instance((4, 5, 5, 3), 1e2, seed=4, gauge_cond=10.0)
    s = _random_direction((4, 5, 5, 3), np.random.default_rng(1), cplx=False, hermitian=True)
    s = [x * np.sign(np.sum([np.vdot(a, b) for a, b in zip(s, moment(W), strict=True)])) for x in s]  # descent
    eig = hermitian_eig(s)
    C = _eigen_coordinates(W, eig)
    a = _line_search(C, eig)
    grid = np.linspace(0.0, 3.0 * a, 301)
    values = [regularizer(_geodesic_point(C, eig, t)) for t in grid]
    assert grid[int(np.argmin(values))] == pytest.approx(a, abs=grid[1])
    assert regularizer(_geodesic_point(C, eig, a)) <= min(values) * (1 + 1e-14)


def test_taylor_exp_pair_is_an_exact_inverse_pair():
    from dln_git.flows.newton import MAX_TAYLOR_DEGREE, _taylor_degree, _taylor_exp_pair

    rng = np.random.default_rng(6)
    M = rng.standard_normal((6, 6))
    S = 0.5 * (M + M.T)
    for x in (1e-8, 1e-4, 1e-2):
        y = x * S / np.linalg.norm(S)
        k = _taylor_degree(x)
        g, h = _taylor_exp_pair(y, k)
        assert np.abs(g @ h - np.eye(6)).max() <= 1e-15
        assert np.abs(h - scipy.linalg.expm(y)).max() <= 1e-15
    assert _taylor_degree(0.5) is None and _taylor_degree(1e-3) <= MAX_TAYLOR_DEGREE


def test_newton_takes_full_steps_in_the_quadratic_phase():
    """The last steps are the full step a = 1 (no line search); X is kept to rounding. (From the
    sweeps' start: the merged start balances this instance before any Newton step.)"""
    from dln_git.flows.newton import newton_balance

    W, X, s = conditioned_instance((6,) * 5, 1e3, seed=8, gauge_cond=10.0)
    run = newton_balance(W, merged=False)
    assert run.converged and run.step_lengths[-1] == 1.0
    assert x_drift(run.weights, X) <= 1e-12
    assert regularizer(run.weights) == pytest.approx(0.5 * 4 * np.sum(s ** 0.5), rel=1e-12)


def test_forcing_is_quadratic_and_stops_at_the_tolerance():
    from dln_git.flows.newton import _forcing

    R, tol = 1.0, 1e-12
    assert _forcing(1.0, R, tol) == 0.25
    assert _forcing(2e-4, R, tol) == pytest.approx(1e-3)  # 10 ||mu|| / 2R
    assert _forcing(1e-10, R, tol) == pytest.approx(1e-3)  # tol R / (10 ||mu||)


def test_deep_gauged_network_is_not_taken_for_x_zero():
    """Depth 32, a balanced network moved by moderate gauges (each ``||W_i||_2`` about 3): the
    product of the layer norms exceeds ``||X|| / (4 N eps)``, so the crude rounding bound of the
    product called X zero and balance returned W = 0; the partial products' bound does not."""
    import scipy.linalg

    from dln_git import gauge_act
    from dln_git.core.end_to_end import product_rounding_level
    from dln_git.core.svd_chart import balanced_from_end_to_end
    from dln_git.testing.strategies import haar_orthonormal

    rng = np.random.default_rng(0)
    d, N = 8, 32
    U, V = haar_orthonormal(rng, d, d, False), haar_orthonormal(rng, d, d, False)
    X = (U * np.logspace(0, -2, d)) @ V.T
    Wb = balanced_from_end_to_end(X, (d,) * (N + 1), rng)
    W = gauge_act([scipy.linalg.expm(1.2 * rng.standard_normal((d, d)) / np.sqrt(d)) for _ in range(N - 1)], Wb)
    crude = 4 * N * np.finfo(float).eps * np.prod([np.linalg.norm(w, 2) for w in W])
    assert crude > np.linalg.norm(X)  # the case of the bug
    assert product_rounding_level(W) <= 1e-10 * np.linalg.norm(X)
    res = balance(W, method="newton")
    assert res.converged and res.x_drift <= 1e-10
    assert np.linalg.norm(np.linalg.multi_dot(res.weights[::-1]) - X) <= 1e-9 * np.linalg.norm(X)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_product_rounding_level_decides_against_x_norm_like_the_full_level(scale):
    """``x_norm`` only skips the spectral-norm cap when the comparison is already decided: for
    values of ``||X||`` on both sides of either level, ``x > level`` comes out the same."""
    from dln_git import random_weights
    from dln_git.core.end_to_end import product_rounding_level

    capped = 0
    for widths in [(4,) * 6, (3, 5, 5, 5, 3), (6, 2, 6), (8, 2, 2, 8)]:
        W = tuple(scale * w for w in random_weights(widths, 0))
        full = product_rounding_level(W)
        fine = product_rounding_level(W, capped=False)  # the partial-product level
        capped += full < fine
        for x in [full * 0.5, full, full * (1 + 1e-9), full * 2, np.sqrt(full * fine), fine, fine * 2]:
            quick = product_rounding_level(W, x_norm=x)
            assert full <= quick <= fine
            assert (x > quick) == (x > full)
    assert capped  # a case where the cap decides, so that skipping it wrongly would show


@pytest.mark.parametrize("seed", [1, 3])
def test_fiber_flow_keeps_x_on_a_deep_gauged_funnel(seed):
    """Widths (3, 5, ..., 5, 3), depth 12, moderate gauges: prod ||W_i||_2 is 1e10 to 3e11 ||X||.
    The retraction's floor taken from it let X drift by 1.5e-9; from the partial products of the
    input, 2e-12 and 2.9e-12 (seeds 1, 3); from those of the current point, which fall as the
    flow balances W, 1.4e-14 and 1.2e-14: X is kept to the issue's 1e-13."""
    import scipy.linalg

    from dln_git import gauge_act, random_weights
    from dln_git.core.end_to_end import product_rounding_level

    rng = np.random.default_rng(seed)
    N = 12
    W = random_weights((3,) + (5,) * (N - 1) + (3,), seed + 2)
    W = gauge_act([scipy.linalg.expm(1.5 * rng.standard_normal((5, 5)) / np.sqrt(5)) for _ in range(N - 1)], W)
    X = np.linalg.multi_dot(W[::-1])
    assert np.prod([np.linalg.norm(w, 2) for w in W]) > 1e10 * np.linalg.norm(X)
    assert product_rounding_level(W) <= 1e-10 * np.linalg.norm(X)
    res = balance(W, method="l2", tol=1e-10)
    assert res.converged
    assert np.linalg.norm(np.linalg.multi_dot(res.weights[::-1]) - X) <= 1e-13 * np.linalg.norm(X)
