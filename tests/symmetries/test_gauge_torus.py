"""The neuron-rescaling torus against the core (moment map, infinitesimal action, Gram operator on
the bias-augmented chain), finite differences and direct norms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.core import end_to_end, gram_operator, infinitesimal_action, moment_map
from dln_git.symmetries.homogeneous import homogeneous_net
from dln_git.symmetries.neuron_torus import (
    augmented_weights,
    gauge_coordinates,
    imbalance,
    neuron_sq_norms,
    rescale_neurons,
    torus_action,
    torus_gram,
    torus_gram_apply,
)

ACTS = ("relu", "leaky_relu", "linear")


def random_net(rng, widths, activation="relu", bias=True, zero_neuron=False):
    W = [rng.standard_normal((widths[i + 1], widths[i])) for i in range(len(widths) - 1)]
    b = [rng.standard_normal(d) for d in widths[1:]] if bias else None
    if zero_neuron and len(widths) > 2:
        W[1][:, 0] = 0.0  # neuron 0 of hidden layer 1 has no outgoing weights
    return homogeneous_net(W, b, activation, 0.2)


nets = st.builds(
    lambda seed, widths, act, bias, zero: random_net(np.random.default_rng(seed), widths, act, bias, zero),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(1, 5), min_size=3, max_size=5),
    st.sampled_from(ACTS), st.booleans(), st.booleans(),
)


def _diag_xi(net, s):
    """The Lie algebra element xi_l = diag(s_l, 0) of the augmented chain (0 on the constant unit)."""
    pad = 1 if net.biases is not None else 0
    return tuple(np.diag(np.concatenate([v, np.zeros(pad)])) for v in s)


@given(nets, st.integers(0, 2**32 - 1))
def test_rescaling_keeps_function(net, seed):
    rng = np.random.default_rng(seed)
    c = [np.exp(rng.uniform(-3, 3, d)) for d in net.hidden_widths]
    x = rng.standard_normal((net.widths[0], 8))
    f0, f1 = net.forward(x), rescale_neurons(net, c).forward(x)
    assert np.linalg.norm(f1 - f0) <= 1e-12 * max(np.linalg.norm(f0), 1e-300) + 1e-300 or np.linalg.norm(f0) == 0


@given(nets)
def test_imbalance_is_diagonal_of_core_moment_map(net):
    mu = moment_map(augmented_weights(net))
    for D, m, d in zip(imbalance(net), mu, net.hidden_widths, strict=True):
        ref = np.diag(m)[:d]
        assert np.allclose(D, ref, rtol=1e-12, atol=1e-12 * np.abs(m).max())


def test_augmented_chain_is_the_affine_map():
    rng = np.random.default_rng(0)
    net = random_net(rng, (3, 4, 5, 2), "linear")
    x = rng.standard_normal((3, 6))
    X = end_to_end(augmented_weights(net))
    assert np.allclose(X @ np.vstack([x, np.ones((1, 6))]), net.forward(x), rtol=1e-12, atol=1e-12)


@given(nets, st.integers(0, 2**32 - 1))
def test_torus_action_matches_core_and_finite_differences(net, seed):
    rng = np.random.default_rng(seed)
    s = [rng.standard_normal(d) for d in net.hidden_widths]
    dW, db = torus_action(net, s)
    ref = infinitesimal_action(augmented_weights(net), _diag_xi(net, s))
    for l, (a, r) in enumerate(zip(dW, ref, strict=True)):
        assert np.allclose(a, r[: a.shape[0], : a.shape[1]], rtol=1e-12, atol=1e-12)
        if db is not None:
            assert np.allclose(db[l], r[: a.shape[0], -1], rtol=1e-12, atol=1e-12)
    h = 1e-6
    plus = rescale_neurons(net, [np.exp(h * v) for v in s])
    minus = rescale_neurons(net, [np.exp(-h * v) for v in s])
    for a, p, m in zip(dW, plus.weights, minus.weights, strict=True):
        assert np.allclose(a, (p - m) / (2 * h), rtol=1e-7, atol=1e-7)


@given(nets, st.integers(0, 2**32 - 1))
def test_torus_gram_is_diagonal_of_core_gram(net, seed):
    rng = np.random.default_rng(seed)
    s = [rng.standard_normal(d) for d in net.hidden_widths]
    K = torus_gram(net)
    Ks = K @ np.concatenate(s)
    G = gram_operator(augmented_weights(net)).apply(_diag_xi(net, s))
    ref = np.concatenate([np.diag(g)[:d] for g, d in zip(G, net.hidden_widths, strict=True)])
    assert np.allclose(Ks, ref, rtol=1e-11, atol=1e-11 * np.abs(K).max())
    assert np.allclose(K, K.T)
    assert np.allclose(np.concatenate(torus_gram_apply(net, s)), Ks, rtol=1e-12, atol=1e-12 * np.abs(K).max())
    # <s, K s> = ||A(s)||^2
    dW, db = torus_action(net, s)
    sq = sum(np.sum(a * a) for a in dW) + (sum(np.sum(v * v) for v in db) if db else 0.0)
    assert abs(np.concatenate(s) @ Ks - sq) <= 1e-11 * max(sq, np.abs(K).max())


def test_one_hidden_layer_gram_is_diagonal():
    rng = np.random.default_rng(1)
    net = random_net(rng, (4, 6, 3))
    a, o = neuron_sq_norms(net)
    ref = np.sum(net.weights[0] ** 2, axis=1) + net.biases[0] ** 2 + np.sum(net.weights[1] ** 2, axis=0)
    assert np.allclose(torus_gram(net), np.diag(ref), rtol=1e-14, atol=0)
    assert np.allclose(a[0] + o[0], ref, rtol=1e-14)


@given(nets, st.integers(0, 2**32 - 1))
def test_gauge_coordinates(net, seed):
    """P_j is invariant and tau_j shifts by log c_j under the rescaling of neuron j ALONE (with more
    than one hidden layer, rescaling a neighbour changes theta_in,j or w_out,j, so P_j is invariant
    under the whole torus only for one hidden layer)."""
    rng = np.random.default_rng(seed)
    layer = int(rng.integers(len(net.hidden_widths)))
    j = int(rng.integers(net.hidden_widths[layer]))
    c = [np.ones(d) for d in net.hidden_widths]
    c[layer][j] = np.exp(rng.uniform(-2, 2))
    g0, g1 = gauge_coordinates(net), gauge_coordinates(rescale_neurons(net, c))
    for l, (P0, t0) in enumerate(zip(g0.P, g0.tau, strict=True)):
        ni = np.linalg.norm(np.hstack([net.weights[l], net.biases[l][:, None]]) if net.biases else net.weights[l],
                            axis=1)
        no = np.linalg.norm(net.weights[l + 1], axis=0)
        assert np.allclose(P0, ni * no, rtol=1e-13, atol=0)
        ok = (ni > 0) & (no > 0)
        assert np.allclose(t0[ok], 0.5 * np.log(ni[ok] / no[ok]), rtol=1e-12, atol=1e-12)
        assert np.all(np.isposinf(t0[(ni > 0) & (no == 0)]))
    assert np.isclose(g1.P[layer][j], g0.P[layer][j], rtol=1e-13, atol=0)
    if np.isfinite(g0.tau[layer][j]):
        assert np.isclose(g1.tau[layer][j], g0.tau[layer][j] + np.log(c[layer][j]), rtol=0, atol=1e-13)


@pytest.mark.parametrize("exponent", [-480, -200, 200, 480])
def test_imbalance_at_extreme_scales(exponent):
    rng = np.random.default_rng(2)
    net = random_net(rng, (3, 5, 4, 2))
    big = net.replace(weights=[np.ldexp(w, exponent) for w in net.weights],
                      biases=[np.ldexp(b, exponent) for b in net.biases])
    for D0, D1 in zip(imbalance(net), imbalance(big), strict=True):
        assert np.allclose(np.ldexp(D1, -2 * exponent), D0, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="not representable"):
        imbalance(net.replace(weights=[np.ldexp(w, 600) for w in net.weights]))


def test_validation():
    rng = np.random.default_rng(3)
    net = random_net(rng, (2, 3, 2))
    with pytest.raises(ValueError, match="positive"):
        rescale_neurons(net, [np.array([1.0, -1.0, 1.0])])
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        rescale_neurons(net, [np.ones(2)])
    with pytest.raises(TypeError, match="HomogeneousNet"):
        imbalance(net.weights)


def test_one_hidden_layer_coordinates_invariant_under_whole_torus():
    rng = np.random.default_rng(4)
    net = random_net(rng, (3, 7, 2))
    c = [np.exp(rng.uniform(-3, 3, 7))]
    g0, g1 = gauge_coordinates(net), gauge_coordinates(rescale_neurons(net, c))
    assert np.allclose(g1.P[0], g0.P[0], rtol=1e-13, atol=0)
    assert np.allclose(g1.tau[0], g0.tau[0] + np.log(c[0]), rtol=0, atol=1e-13)
