"""Balanced realization: Gramians equal and diagonal (checked by Lyapunov residuals, no solver),
transfer function unchanged, T T_inv = I, minimal part, unstable part, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from systems_helpers import dense_transfer, lyapunov_residual, minimal_system, sample_points

from dln_git.systems import (
    StateSpace,
    balanced_realization,
    gramian_factor,
    gramians,
    hankel_singular_values,
    random_state_space,
)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), discrete=st.booleans(), cplx=st.booleans())
def test_balanced_gramians_equal_diagonal_and_transfer_kept(seed, n, discrete, cplx):
    rng = np.random.default_rng(seed)
    s = minimal_system(rng, n, dt=0.5 if discrete else None, complex=cplx)
    r = balanced_realization(s)
    assert r.converged and r.minimal and r.order == n and r.gramian_residual <= 1e-10
    S = np.diag(r.hsv)
    # diag(hsv) solves both Lyapunov equations of the balanced system (residual, not a second solve)
    assert lyapunov_residual(r.system, S, S) <= 1e-12
    pts = sample_points(s)
    ref = dense_transfer(s, pts)
    assert np.abs(dense_transfer(r.system, pts) - ref).max() <= 1e-10 * np.abs(ref).max()
    assert np.linalg.norm(r.T @ r.T_inv - np.eye(n), 2) <= 1e-12 * np.linalg.cond(r.T)
    # HSV: sqrt of the eigenvalues of P Q (a different route, accurate for the well-separated top ones)
    g = gramians(s)
    ref_hsv = np.sort(np.sqrt(np.abs(np.linalg.eigvals(g.P @ g.Q))))[::-1]
    assert np.abs(ref_hsv - r.hsv).max() <= 1e-8 * r.hsv[0]


def test_gramian_factor_semidefinite():
    rng = np.random.default_rng(2)
    V = rng.standard_normal((6, 2))
    G = V @ V.T  # rank 2: Cholesky would fail
    L = gramian_factor(G)
    assert np.allclose(L @ L.T, G, atol=1e-13 * np.linalg.norm(G))
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(G - 1e-12 * np.eye(6))


def test_nonminimal_input_reduce_or_raise():
    rng = np.random.default_rng(3)
    s = random_state_space(8, 2, 2, rng)
    # append 3 uncontrollable states (B rows zero): exactly non-minimal
    A = np.block([[s.A, np.zeros((8, 3))], [np.zeros((3, 8)), -np.eye(3)]])
    big = StateSpace(A, np.vstack([s.B, np.zeros((3, 2))]), np.hstack([s.C, rng.standard_normal((2, 3))]), s.D)
    r = balanced_realization(big)
    assert r.n_removed >= 3 and not r.minimal and r.converged
    assert r.T.shape == (r.order, 11) and r.T_inv.shape == (11, r.order)
    assert np.allclose(r.T @ r.T_inv, np.eye(r.order), atol=1e-10)
    pts = sample_points(big)
    ref = dense_transfer(big, pts)
    assert np.abs(dense_transfer(r.system, pts) - ref).max() <= 1e-9 * np.abs(ref).max()
    with pytest.raises(ValueError, match="not minimal"):
        balanced_realization(big, nonminimal="raise")


def test_unstable_split_or_refuse():
    rng = np.random.default_rng(4)
    s = minimal_system(rng, 10, n_unstable=3)
    r = balanced_realization(s)
    assert r.n_unstable == 3 and r.converged and "unstable" in r.message
    kept = np.sort_complex(np.linalg.eigvals(r.system.A[-3:, -3:]))
    assert np.allclose(kept, np.sort_complex(s.poles()[s.poles().real > 0]), atol=1e-10)
    pts = sample_points(s)
    ref = dense_transfer(s, pts)
    assert np.abs(dense_transfer(r.system, pts) - ref).max() <= 1e-9 * np.abs(ref).max()
    S = np.diag(r.hsv[: r.order - 3])
    assert lyapunov_residual(r.stable_part, S, S) <= 1e-12
    with pytest.raises(ValueError, match="unstable"):
        balanced_realization(s, unstable="raise")
    with pytest.raises(ValueError, match="unstable"):
        gramians(s)


@pytest.mark.parametrize("dt, pole", [(None, 0.0), (None, 1e-12), (1.0, 1.0), (1.0, -1.0)])
def test_boundary_poles_are_a_clear_error(dt, pole):
    s = StateSpace(np.diag([pole, -0.5]), np.ones((2, 1)), np.ones((1, 2)), dt=dt)
    with pytest.raises(ValueError, match="boundary"):
        balanced_realization(s)
    with pytest.raises(ValueError, match="boundary"):
        hankel_singular_values(s)


def test_options_are_checked():
    s = StateSpace(-np.eye(2), np.ones((2, 1)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="unstable"):
        balanced_realization(s, unstable="keep")
    with pytest.raises(ValueError, match="rank_rtol"):
        balanced_realization(s, rank_rtol=2.0)
    with pytest.raises(TypeError, match="verify"):
        balanced_realization(s, verify=1)


@pytest.mark.parametrize("exponent", [-150, -60, 0, 60, 150])
def test_scale_of_b_and_c(exponent):
    rng = np.random.default_rng(5)
    s = minimal_system(rng, 6)
    c = 10.0**exponent
    base = balanced_realization(s)
    big = balanced_realization(StateSpace(s.A, c * s.B, c * s.C, s.D))
    assert big.converged
    assert np.allclose(big.hsv, c * c * base.hsv, rtol=1e-10)
    assert np.allclose(big.system.A, base.system.A, atol=1e-10 * np.abs(base.system.A).max())


def test_zero_system_has_order_zero():
    s = StateSpace(-np.eye(3), np.zeros((3, 1)), np.ones((1, 3)))
    r = balanced_realization(s)
    assert r.order == 0 and r.n_removed == 3 and r.converged


def test_inaccurate_inverse_pair_is_flagged_not_converged():
    """Hankel singular values over 11 decades (control.rss at n = 200): kept states near the cut make
    ``T T_inv`` miss I by ~eps s_1/s_r. The result must say so (converged=False, with the reason),
    and a larger rank_rtol must give an accurate, converged pair, checked independently."""
    import scipy.linalg

    control = pytest.importorskip("control")
    state = np.random.get_state()  # noqa: NPY002  (control.rss draws from numpy's global state)
    try:
        np.random.seed(0)  # noqa: NPY002
        s = control.rss(200, 3, 3)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    sys = StateSpace(*(np.asarray(M, float) for M in (s.A, s.B, s.C, s.D)))

    def ratio(r):
        scale = np.linalg.norm(r.T, 2) * np.linalg.norm(r.T_inv, 2)
        return np.linalg.norm(r.T @ r.T_inv - np.eye(r.order), 2) / scale

    r = balanced_realization(sys)
    assert r.inverse_residual == pytest.approx(ratio(r), rel=1e-6)
    assert ratio(r) > 1e-12 and not r.converged and "T T_inv" in r.message
    r2 = balanced_realization(sys, rank_rtol=1e-10)
    assert r2.converged and ratio(r2) <= 1e-12 and r2.order < r.order
    b = r2.system
    P = scipy.linalg.solve_continuous_lyapunov(b.A, -b.B @ b.B.T)
    Q = scipy.linalg.solve_continuous_lyapunov(b.A.T, -b.C.T @ b.C)
    S = np.diag(r2.hsv[: r2.order])
    assert max(np.linalg.norm(P - S), np.linalg.norm(Q - S)) <= 1e-10 * np.linalg.norm(S)
