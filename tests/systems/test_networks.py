"""The DLN reading (docs/math section 5): N = 2 realizations, deep reduction, naive partial Gramians."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dln_git as dg
from dln_git.systems import (
    balanced_realization,
    balanced_truncation,
    gramians,
    hankel_singular_values,
    naive_partial_gramians,
    realization_from_weights,
    reduce_network,
)
from dln_git.testing.strategies import degenerate_weights, rescaled_weights, unbalanced_weights, weights


@given(W=weights(st.sampled_from([(3, 2, 4), (4, 3, 3), (2, 2, 5)]), cond=10.0), dt=st.sampled_from([1.0, None]))
def test_n2_gramians_hsv_and_moore_balancing(W, dt):
    s = realization_from_weights(W, dt=dt)
    g = gramians(s)
    P, Q = W[0] @ W[0].T, W[1].T @ W[1]
    assert np.allclose(g.P, P, atol=1e-13 * np.linalg.norm(P)) and np.allclose(g.Q, Q, atol=1e-13 * np.linalg.norm(Q))
    X = W[1] @ W[0]
    sv = np.linalg.svd(X, compute_uv=False)[: W[0].shape[0]]
    b = balanced_realization(s)
    assert np.allclose(b.hsv, sv, atol=1e-12 * sv[0])
    Wb = (b.system.B, b.system.C)
    assert dg.moment_norm(Wb) <= 1e-12 * dg.regularizer(Wb)
    assert np.allclose(Wb[0] @ Wb[0].T, np.diag(sv), atol=1e-12 * sv[0])
    assert np.allclose(Wb[1] @ Wb[0], X, atol=1e-12 * sv[0])


@given(pair=rescaled_weights((3, 3, 3), min_exponent=-100, max_exponent=100))
def test_n2_hsv_scale_with_the_weights(pair):
    W, c = pair
    base = tuple(w / c for w in W)
    h = hankel_singular_values(realization_from_weights(W))
    assert np.allclose(h, c * c * hankel_singular_values(realization_from_weights(base)), rtol=1e-10)


@given(W=unbalanced_weights((3, 3, 3), max_exponent=5))
def test_n2_truncation_is_truncated_svd_on_unbalanced_gauges(W):
    X = W[1] @ W[0]
    U, sv, Vh = np.linalg.svd(X)
    t = balanced_truncation(realization_from_weights(W), 2, measure_error=False)
    Xk = t.system.C @ t.system.B
    # Eckart-Young optimal (the truncated SVD itself where s_2 > s_3; any optimum when they tie)
    assert np.linalg.norm(X - Xk, 2) == pytest.approx(sv[2], abs=1e-9 * sv[0])
    if sv[1] - sv[2] > 1e-3 * sv[0]:
        assert np.allclose(Xk, (U[:, :2] * sv[:2]) @ Vh[:2], atol=1e-9 * sv[0] * sv[0] / (sv[1] - sv[2]))
    assert t.bound == pytest.approx(2 * sv[2], rel=1e-6, abs=1e-12 * sv[0])


@given(W=degenerate_weights((3, 3, 3), kinds=("zero_layer", "zero_product", "rank_one")))
def test_n2_degenerate_weights_balance_the_minimal_part(W):
    X = W[1] @ W[0]
    r = balanced_realization(realization_from_weights(W))
    # numerical rank relative to ||W_2|| ||W_1|| (X = 0 up to rounding has rank 0, not full rank)
    rank = int(np.sum(np.linalg.svd(X, compute_uv=False) > 1e-12 * np.linalg.norm(W[0], 2) * np.linalg.norm(W[1], 2)))
    assert r.order == rank and r.n_removed == 3 - rank and r.converged
    assert np.allclose(r.system.C @ r.system.B if r.order else np.zeros_like(X), X, atol=1e-12 * (1 + np.abs(X).max()))


@pytest.mark.parametrize("widths, rank", [((4, 4, 4, 4), 2), ((5, 3, 4, 3, 5), 2), ((3, 3, 3), 1), ((4, 4, 4, 4), 4)])
def test_reduce_network_reaches_eckart_young(widths, rank):
    rng = np.random.default_rng(sum(widths) + rank)
    W = dg.random_weights(widths, rng)
    r = reduce_network(W, rank)
    X = dg.end_to_end(W)
    U, sv, Vh = np.linalg.svd(X)
    Xk = (U[:, :rank] * sv[:rank]) @ Vh[:rank]
    assert r.converged
    assert np.allclose(dg.end_to_end(r.weights), Xk, atol=1e-9 * sv[0])
    assert r.eckart_young_2 == pytest.approx(sv[rank] if rank < sv.size else 0.0, rel=1e-12, abs=1e-14 * sv[0])
    assert r.error_2 <= r.bound + 1e-12 * sv[0]
    assert np.allclose(dg.end_to_end(r.balanced_weights), X, atol=1e-10 * sv[0])
    for i in range(len(W) - 1):  # each hidden Gramian pair of the balanced network is diagonal and equal
        Wb = r.balanced_weights
        M1, M2 = Wb[i] @ Wb[i].T, Wb[i + 1].T @ Wb[i + 1]
        assert np.allclose(M1, M2, atol=1e-10 * sv[0]) and np.allclose(M1, np.diag(np.diag(M1)), atol=1e-9 * sv[0])


@pytest.mark.parametrize("N", [3, 4, 5])
def test_naive_partial_gramians_differ_at_mu_zero(N):
    """At the SVD chart (mu = 0) the partial-product Gramians are Q S^{2i/N} Q^T and Q S^{2(N-i)/N} Q^T."""
    rng = np.random.default_rng(N)
    X = rng.standard_normal((3, 3))
    S = np.linalg.svd(X, compute_uv=False)
    W = dg.balanced_from_end_to_end(X, (3,) * (N + 1), rng)
    assert dg.moment_norm(W) <= 1e-12 * dg.regularizer(W)
    for i in range(1, N):
        P, Q = naive_partial_gramians(W, i)
        assert np.allclose(np.linalg.eigvalsh(P)[::-1], S ** (2 * i / N), rtol=1e-10)
        assert np.allclose(np.linalg.eigvalsh(Q)[::-1], S ** (2 * (N - i) / N), rtol=1e-10)
        if 2 * i != N:
            assert np.linalg.norm(P - Q) > 1e-3 * np.linalg.norm(P)
        else:
            assert np.linalg.norm(P - Q) <= 1e-12 * np.linalg.norm(P)
    # yet the product P Q has eigenvalues s^2: grouping layers is still an N = 2 realization of X
    P, Q = naive_partial_gramians(W, 1)
    assert np.allclose(np.sort(np.sqrt(np.abs(np.linalg.eigvals(P @ Q))))[::-1], S, rtol=1e-9)


def test_errors_name_the_problem():
    W = dg.random_weights((2, 2, 2, 2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="N = 2"):
        realization_from_weights(W)
    with pytest.raises(ValueError, match="hidden"):
        naive_partial_gramians(W, 3)
    with pytest.raises(TypeError, match="rank"):
        reduce_network(W, 1.5)
    with pytest.raises(ValueError, match="hidden layer"):
        reduce_network(W[:1], 1)
