"""StateSpace: validation, the GL(n) action, transfer function, Markov parameters, poles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from systems_helpers import dense_transfer, sample_points

from dln_git.systems import StateSpace, random_state_space


def test_shapes_are_named_in_errors():
    A, B, C = np.zeros((3, 3)), np.zeros((3, 2)), np.zeros((1, 3))
    with pytest.raises(ValueError, match="A must be square"):
        StateSpace(np.zeros((3, 2)), B, C)
    with pytest.raises(ValueError, match=r"B must have shape \(3, any\)"):
        StateSpace(A, np.zeros((2, 2)), C)
    with pytest.raises(ValueError, match=r"C must have shape \(any, 3\)"):
        StateSpace(A, B, np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"D must have shape \(1, 2\)"):
        StateSpace(A, B, C, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="A contains NaN"):
        StateSpace(np.full((3, 3), np.nan), B, C)
    with pytest.raises(ValueError, match="dt"):
        StateSpace(A, B, C, dt=0.0)
    with pytest.raises(TypeError, match="dt"):
        StateSpace(A, B, C, dt="1")
    with pytest.raises(TypeError, match="B must be a numeric"):
        StateSpace(A, np.array([["a", "b"]] * 3), C)


def test_no_shared_memory_and_read_only():
    rng = np.random.default_rng(0)
    A, B, C = -np.eye(3), rng.standard_normal((3, 2)), rng.standard_normal((2, 3))
    s = StateSpace(A, B, C)
    A[0, 0] = 5.0
    assert s.A[0, 0] == -1.0
    with pytest.raises(ValueError):
        s.B[0, 0] = 1.0
    assert not np.shares_memory(s.transform(np.eye(3)).B, s.B)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), discrete=st.booleans(), cplx=st.booleans())
def test_transfer_function_and_gl_action_against_dense_inverse(seed, n, discrete, cplx):
    rng = np.random.default_rng(seed)
    s = random_state_space(n, 2, 3, rng, dt=1.0 if discrete else None, complex=cplx)
    pts = sample_points(s)
    ref = dense_transfer(s, pts)
    assert np.allclose(s.transfer_function(pts), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    T = np.eye(n) + 0.3 * rng.standard_normal((n, n))
    t = s.transform(T)
    Ti = np.linalg.inv(T)
    assert np.allclose(t.A, T @ s.A @ Ti, atol=1e-10 * np.linalg.cond(T) * np.abs(s.A).max())
    assert np.allclose(t.transfer_function(pts), ref, rtol=1e-9, atol=1e-10 * np.abs(ref).max())


def test_markov_parameters_are_the_discrete_impulse_response():
    rng = np.random.default_rng(1)
    s = random_state_space(5, 2, 3, rng, dt=1.0)
    # simulate x_{k+1} = A x_k + B u_k with u = unit impulse in each input
    h = np.zeros((6, 3, 2))
    for j in range(2):
        x = np.zeros(5)
        for k in range(6):
            u = np.eye(2)[j] if k == 0 else np.zeros(2)
            h[k, :, j] = s.C @ x + s.D @ u
            x = s.A @ x + s.B @ u
    assert np.allclose(s.markov_parameters(6), h, atol=1e-12)
    with pytest.raises(ValueError, match="count"):
        s.markov_parameters(0)


def test_poles_and_stability():
    s = StateSpace(np.diag([-1.0, 2.0]), np.ones((2, 1)), np.ones((1, 2)))
    assert sorted(s.poles().real) == [-1.0, 2.0] and not s.is_stable()
    d = StateSpace(np.diag([0.5, -0.9]), np.ones((2, 1)), np.ones((1, 2)), dt=0.1)
    assert d.is_stable() and abs(d.stability_margin() - 0.1) < 1e-15
    with pytest.raises(ValueError, match="pole"):
        s.transfer_function([2.0])


def test_singular_transform_is_refused():
    s = StateSpace(-np.eye(2), np.ones((2, 1)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="singular"):
        s.transform(np.ones((2, 2)))
