"""Quotient observables (docs/math section 6.3): invariance under the symmetry against independent references.

* DLN: singular values by a dense product and numpy's SVD, balanced layer norms by the closed form
  ``sum_k s_k^{2/N}``, invariance under a random gauge element ``exp(xi)``.
* ReLU: path norms by brute-force enumeration of every path (itertools), invariance of the path norms,
  the rank-one neuron invariants and the network function under neuron rescaling.
* Attention: ``||A||^2 + ||B||^2 >= 2 ||AB||_*`` with the nuclear norm from numpy's SVD, equality at
  the SVD-chart pair and at the pair balanced by Newton (dln_git.flows.balance, a second algorithm).
"""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.core import gauge_exp
from dln_git.flows import balance
from dln_git.symmetries.quotient import (
    attention_observables,
    balance_pair,
    dln_observables,
    factor_pair_observables,
    neuron_invariants,
    path_norm,
    relu_observables,
    rescale_neurons,
)

widths_st = st.lists(st.integers(1, 5), min_size=2, max_size=5)


def _weights(widths, rng, zero_layer=None):
    W = [rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1)]
    if zero_layer is not None:
        W[zero_layer % len(W)] = np.zeros_like(W[zero_layer % len(W)])
    return tuple(W)


def _hermitian_xi(widths, rng, spread):
    out = []
    for d in widths[1:-1]:
        a = rng.standard_normal((d, d))
        out.append(spread * (a + a.T) / 2)
    return tuple(out)


# ---------------------------------------------------------------- DLN
@given(widths=widths_st, seed=st.integers(0, 2**32 - 1), spread=st.floats(0.0, 1.5), zero=st.booleans())
def test_dln_quotient_observables_are_gauge_invariant_and_match_references(widths, seed, spread, zero):
    rng = np.random.default_rng(seed)
    N = len(widths) - 1
    W = _weights(widths, rng, zero_layer=int(rng.integers(N)) if zero else None)
    gW = gauge_exp(_hermitian_xi(widths, rng, spread), W)
    o, g = dln_observables(W), dln_observables(gW)
    X = np.linalg.multi_dot([*W[::-1], np.eye(widths[0])]) if N > 1 else W[0]
    s_ref = np.linalg.svd(X, compute_uv=False)
    scale = max(s_ref[0], 1.0)
    assert np.allclose(o.singular_values, s_ref, rtol=0, atol=1e-12 * scale)
    # gauge invariance: exp(xi) has condition number up to e^{2 * 1.5 * ||xi||}; rounding in g.W
    # grows with it, so the comparison is relative to ||g.W||^N
    big = max(np.prod([np.linalg.norm(w, 2) for w in gW]), scale)
    assert np.allclose(g.singular_values, s_ref, rtol=0, atol=1e-10 * big)
    kept = s_ref[s_ref > 1e-12 * s_ref[0]] if s_ref[0] > 0 else s_ref[:0]
    closed = np.sum(kept ** (2.0 / N))
    assert np.allclose(o.balanced_layer_norms ** 2, closed, rtol=1e-10, atol=1e-300)
    assert o.min_regularizer == pytest.approx(0.5 * N * closed, rel=1e-10, abs=1e-300)
    assert np.allclose(o.layer_norms, [np.linalg.norm(w) for w in W])
    assert o.regularizer == pytest.approx(0.5 * sum(np.sum(w**2) for w in W))
    mu = [W[i] @ W[i].T - W[i + 1].T @ W[i + 1] for i in range(N - 1)]
    assert o.mu_norm == pytest.approx(np.sqrt(sum(np.sum(m**2) for m in mu)), rel=1e-12, abs=1e-12)
    # R >= min R on the fiber, with the raw norms moved by the gauge element
    assert o.regularizer >= o.min_regularizer * (1 - 1e-10) and g.regularizer >= g.min_regularizer * (1 - 1e-9)


@pytest.mark.parametrize("c", [2.0**-300, 1e-150, 1e100])
def test_dln_observables_scale_homogeneously(c):
    rng = np.random.default_rng(3)
    W = _weights((3, 4, 2), rng)
    o, oc = dln_observables(W), dln_observables(tuple(c * w for w in W))
    assert np.allclose(oc.singular_values, c**2 * o.singular_values, rtol=1e-12)
    assert np.allclose(oc.balanced_layer_norms, c * o.balanced_layer_norms, rtol=1e-12)
    assert np.allclose(oc.layer_norms, c * o.layer_norms, rtol=1e-12)
    assert oc.min_regularizer == pytest.approx(c**2 * o.min_regularizer, rel=1e-12)


def test_dln_observables_reject_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        dln_observables((np.array([[np.nan]]),))
    with pytest.raises(ValueError, match="columns"):
        dln_observables((np.ones((2, 3)), np.ones((2, 4))))


# ---------------------------------------------------------------- ReLU
def _brute_path_norm(W, b, p):
    """sum over every path (input unit or a bias unit -> ... -> output unit) of prod |w_e|^p."""
    d = [W[0].shape[1]] + [w.shape[0] for w in W]
    total = 0.0
    for start in range(len(W) + 1):  # start = 0: input units; start = l >= 1: the bias of layer l
        sources = range(d[0]) if start == 0 else [None]
        layers = range(max(start - 1, 0), len(W))
        for src in sources:
            for path in itertools.product(*[range(d[k + 1]) for k in layers]):
                prod, prev = 1.0, src
                for k, j in zip(layers, path, strict=True):
                    prod *= abs(b[k][j] if prev is None else W[k][j, prev]) ** p
                    prev = j
                total += prod
        if b is None:
            break
    return total ** (1.0 / p)


def _relu_forward(W, b, x):
    h = x
    for k, w in enumerate(W):
        h = w @ h + (0.0 if b is None else b[k][:, None])
        if k < len(W) - 1:
            h = np.maximum(h, 0.0)
    return h


relu_widths = st.lists(st.integers(1, 3), min_size=2, max_size=4)


@given(widths=relu_widths, seed=st.integers(0, 2**32 - 1), bias=st.booleans(), p=st.sampled_from([1.0, 2.0, 1.5]))
def test_relu_invariants_match_brute_force_and_survive_neuron_rescaling(widths, seed, bias, p):
    rng = np.random.default_rng(seed)
    W = _weights(widths, rng)
    b = tuple(rng.standard_normal(d) for d in widths[1:]) if bias else None
    ref = _brute_path_norm(W, b, p)
    assert path_norm(W, b, p=p) == pytest.approx(ref, rel=1e-12)
    scales = [np.exp(rng.uniform(-5, 5, d)) for d in widths[1:-1]]
    W2, b2 = rescale_neurons(W, scales, b)
    assert path_norm(W2, b2, p=p) == pytest.approx(ref, rel=1e-10)
    # w_out,j theta_in,j^T is invariant under the rescaling of its own layer (other layers' scales
    # act on it by D_{l+1} . D_{l-1}^{-1}): rescale one hidden layer at a time
    before = neuron_invariants(W, b)
    for layer in range(1, len(widths) - 1):
        one = [np.ones(d) for d in widths[1:-1]]
        one[layer - 1] = scales[layer - 1]
        after = neuron_invariants(*rescale_neurons(W, one, b))
        ref_inv = np.einsum("aj,jb->jab", W[layer], W[layer - 1] if b is None else
                            np.hstack([W[layer - 1], b[layer - 1][:, None]]))
        assert np.allclose(before[layer - 1], ref_inv, rtol=1e-14, atol=0)
        assert np.allclose(after[layer - 1], ref_inv, rtol=1e-10, atol=1e-10 * np.abs(ref_inv).max(initial=1.0))
    x = rng.standard_normal((widths[0], 7))
    y, y2 = _relu_forward(W, b, x), _relu_forward(W2, b2, x)
    assert np.allclose(y, y2, rtol=1e-9, atol=1e-9 * np.abs(y).max(initial=1.0))
    if len(widths) > 2:  # the raw norms move (unless every scale is ~1)
        raw, raw2 = relu_observables(W, b), relu_observables(W2, b2)
        assert raw.path_norm_l2 == pytest.approx(raw2.path_norm_l2, rel=1e-10)
        moved = max(abs(np.log(c)).max() for c in scales)
        if moved > 1.0:
            assert not np.allclose(raw.layer_norms, raw2.layer_norms, rtol=1e-3)


def test_path_norm_scale_zero_layer_and_errors():
    rng = np.random.default_rng(1)
    W = _weights((3, 4, 2, 2), rng)
    base = path_norm(W, p=2)
    for c in (1e-100, 1e100):
        assert path_norm(tuple(c * w for w in W), p=2) == pytest.approx(c**3 * base, rel=1e-12)
    zero = (W[0], np.zeros_like(W[1]), W[2])
    assert path_norm(zero, p=1) == 0.0
    b = (np.zeros(4), np.ones(2), np.zeros(2))  # paths from the second layer's bias survive
    assert path_norm(zero, b, p=1) == pytest.approx(np.abs(W[2]).sum(), rel=1e-14)
    with pytest.raises(TypeError, match="real"):
        path_norm((W[0] + 0j,))
    with pytest.raises(ValueError, match="b_2"):
        path_norm(W, (np.zeros(4), np.zeros(3), np.zeros(2)))
    with pytest.raises(ValueError, match="positive"):
        rescale_neurons(W, [np.ones(4), -np.ones(2)])
    with pytest.raises(ValueError, match="p"):
        path_norm(W, p=0.0)
    with pytest.raises(ValueError, match="not representable"):
        path_norm(tuple(1e-200 * w for w in W))


# ---------------------------------------------------------------- attention
def _pair(rng, m, k, n, kind):
    A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    if kind == "rank_deficient" and k > 1:
        A[:, 0] = A[:, 1]
    if kind == "zero":
        A = np.zeros((m, k))
    if kind == "rescaled":
        g = np.diag(np.exp(rng.uniform(-4, 4, k))) @ np.linalg.qr(rng.standard_normal((k, k)))[0]
        A, B = A @ np.linalg.inv(g), g @ B
    return A, B


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5),
       kind=st.sampled_from(["random", "rescaled", "rank_deficient", "zero"]))
def test_attention_inequality_and_equality_at_the_balanced_pair(seed, m, k, n, kind):
    rng = np.random.default_rng(seed)
    A, B = _pair(rng, m, k, n, kind)
    o = factor_pair_observables(A, B)
    M = A @ B
    nuc = np.linalg.norm(M, "nuc")
    size = np.sum(A**2) + np.sum(B**2)
    assert o.nuclear_norm == pytest.approx(nuc, rel=1e-10, abs=1e-12 * size)
    assert size >= 2 * nuc - 1e-12 * size
    assert o.gap == pytest.approx(size - 2 * nuc, rel=1e-8, abs=1e-10 * size)
    Ab, Bb = o.balanced_left, o.balanced_right
    assert np.allclose(Ab @ Bb, M, atol=1e-12 * max(size, 1e-300))
    assert np.sum(Ab**2) + np.sum(Bb**2) == pytest.approx(2 * nuc, rel=1e-10, abs=1e-12)
    assert np.allclose(Ab.T @ Ab, Bb @ Bb.T, atol=1e-12 * max(nuc, 1e-300))
    # a second algorithm: Newton balancing on the GL(k)-orbit closure reaches equality too
    if kind != "zero" and size > 0:
        r = balance((B, A), method="newton")
        B_n, A_n = r.weights
        assert np.sum(A_n**2) + np.sum(B_n**2) == pytest.approx(2 * nuc, rel=1e-6, abs=1e-10 * size)
        assert factor_pair_observables(A_n, B_n).gap <= 1e-6 * size


def test_attention_heads_and_balanced_equality():
    rng = np.random.default_rng(5)
    WQ, WK, WV, WO = (rng.standard_normal(s) for s in [(6, 3), (6, 3), (6, 2), (2, 6)])
    obs = attention_observables(WQ, WK, WV, WO)
    assert np.allclose(obs["QK"].product, WQ @ WK.T) and np.allclose(obs["VO"].product, WV @ WO)
    g = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    moved = attention_observables(WQ @ np.linalg.inv(g), WK @ g.T, WV, WO)["QK"]
    assert moved.nuclear_norm == pytest.approx(obs["QK"].nuclear_norm, rel=1e-11)
    assert moved.squared_norms != pytest.approx(obs["QK"].squared_norms, rel=1e-3)
    # the balanced pair itself: gap 0 to rounding
    bal = factor_pair_observables(obs["QK"].balanced_left, obs["QK"].balanced_right)
    assert bal.gap <= 1e-12 * bal.squared_norms and bal.mu_norm <= 1e-12 * bal.squared_norms
    with pytest.raises(ValueError, match="inner dimension"):
        factor_pair_observables(WQ, WK)


@pytest.mark.parametrize("method", ["newton", "svd"])
def test_balance_pair_reaches_the_nuclear_norm(method):
    rng = np.random.default_rng(8)
    A, B = _pair(rng, 5, 3, 4, "rescaled")
    left, right, result = balance_pair(A, B, method=method)
    assert result.converged, result.message
    assert np.allclose(left @ right, A @ B, atol=1e-10 * np.linalg.norm(A @ B))
    nuc = np.linalg.norm(A @ B, "nuc")
    assert np.sum(left**2) + np.sum(right**2) == pytest.approx(2 * nuc, rel=1e-10)
    assert np.sum(A**2) + np.sum(B**2) > 2 * nuc * (1 + 1e-3)  # the rescaled pair was not balanced


def test_dln_observables_complex_weights():
    rng = np.random.default_rng(4)
    W = tuple(rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in [(3, 2), (4, 3), (2, 4)])
    o = dln_observables(W)
    s = np.linalg.svd(W[2] @ W[1] @ W[0], compute_uv=False)
    assert np.allclose(o.singular_values, s, rtol=1e-12)
    assert np.allclose(o.balanced_layer_norms**2, np.sum(s ** (2 / 3)), rtol=1e-12)


@pytest.mark.parametrize("c", [1e-150, 1e150])
def test_factor_pair_observables_scale_homogeneously(c):
    rng = np.random.default_rng(9)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    o, oc = factor_pair_observables(A, B), factor_pair_observables(c * A, c * B)
    assert oc.nuclear_norm == pytest.approx(c**2 * o.nuclear_norm, rel=1e-13)
    assert oc.gap == pytest.approx(c**2 * o.gap, rel=1e-12)
    assert np.allclose(oc.balanced_left, c * o.balanced_left, rtol=1e-12, atol=0)
