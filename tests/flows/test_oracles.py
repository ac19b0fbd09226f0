"""The N = 2 geometric-mean oracle against independent computations."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dln_git as dg
from dln_git.flows import geometric_mean_balance
from dln_git.testing import strategies as dst


def closed_orbit_widths():
    """(d_0, d_1, d_2) with d_1 <= min(d_0, d_2): generic orbits closed, P and Q invertible."""
    return st.integers(1, 4).flatmap(
        lambda d1: st.tuples(st.integers(d1, 5), st.just(d1), st.integers(d1, 5))
    )


def closed_orbit_weights():
    return st.tuples(closed_orbit_widths(), st.booleans()).flatmap(
        lambda wc: dst.weights(wc[0], cond=30.0, complex=wc[1])
    )


@given(closed_orbit_weights())
def test_oracle_balances_and_keeps_x(W):
    res = geometric_mean_balance(W)
    X = dg.end_to_end(W)
    Wb = res.weights
    assert np.linalg.norm(dg.end_to_end(Wb) - X) <= 1e-11 * np.linalg.norm(X)
    assert dg.moment_norm(Wb) <= 1e-10 * 2 * dg.regularizer(Wb)
    # H P H = Q, H Hermitian positive definite
    P, Q = W[0] @ W[0].conj().T, W[1].conj().T @ W[1]
    assert np.linalg.norm(res.H @ P @ res.H - Q) <= 1e-10 * np.linalg.norm(Q)
    assert np.linalg.eigvalsh(res.H).min() > 0
    # independent closed form: balanced with d_1 = rank X means W_1^* W_1 = (X^* X)^{1/2}, and
    # R attains the nuclear norm of X (the minimum of R on the fiber for N = 2)
    _, sv, Vh = np.linalg.svd(X, full_matrices=False)
    root = (Vh.conj().T * sv) @ Vh  # (X^* X)^{1/2} from the SVD of X (no square root of ~0)
    assert np.linalg.norm(Wb[0].conj().T @ Wb[0] - root) <= 1e-8 * np.linalg.norm(root)
    assert dg.regularizer(Wb) == pytest.approx(np.linalg.norm(X, "nuc"), rel=1e-10)


@given(closed_orbit_widths(), st.integers(0, 2**32 - 1))
def test_every_unitary_multiple_is_balanced(widths, seed):
    """g = U H^{1/2} works for every unitary U (docs/math section 3)."""
    rng = np.random.default_rng(seed)
    W = dg.random_weights(widths, rng)
    res = geometric_mean_balance(W)
    U = dg.haar_orthonormal(widths[1], widths[1], rng)
    Wu = dg.gauge_act((U @ res.g,), W)
    assert dg.moment_norm(Wu) <= 1e-10 * 2 * dg.regularizer(Wu)


def test_oracle_rejects_open_orbits_and_other_depths():
    with pytest.raises(ValueError, match="singular"):
        geometric_mean_balance(dg.random_weights((2, 4, 2), 0))  # excess width: P singular
    with pytest.raises(ValueError, match="depth N = 2"):
        geometric_mean_balance(dg.random_weights((2, 2, 2, 2), 0))
