"""Exact balancing onto D = 0: against direct norms, brute-force minimisation of the convex orbit
function F(u), the one-hidden-layer closed form, ENorm sweeps, and the derivatives of F."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize

from dln_git.symmetries.gauge_balance import balance_neurons, balance_one_hidden_layer
from dln_git.symmetries.homogeneous import homogeneous_net
from dln_git.symmetries.neuron_torus import imbalance, rescale_neurons, torus_gram


def random_net(rng, widths, bias=True, spread=0.0, activation="relu"):
    W = [rng.standard_normal((widths[i + 1], widths[i])) * np.exp(rng.uniform(-spread, spread, (widths[i + 1], 1)))
         for i in range(len(widths) - 1)]
    b = [rng.standard_normal(d) for d in widths[1:]] if bias else None
    return homogeneous_net(W, b, activation)


def direct_D(net):
    """max |D| and the mean squared neuron norm, from np.linalg.norm (no package code)."""
    Ds, ss = [], []
    for l in range(net.depth - 1):
        th = np.hstack([net.weights[l], net.biases[l][:, None]]) if net.biases else net.weights[l]
        a = np.linalg.norm(th, axis=1) ** 2
        o = np.linalg.norm(net.weights[l + 1], axis=0) ** 2
        Ds.append(a - o)
        ss.append((a + o) / 2)
    return np.concatenate(Ds), np.mean(np.concatenate(ss))


def F_of_u(net, u_flat):
    """||exp(u).W||^2 written out entry by entry (the convex orbit function)."""
    sizes = net.hidden_widths
    u = np.split(u_flat, np.cumsum(sizes)[:-1])
    full = [np.zeros(net.widths[0]), *u, np.zeros(net.widths[-1])]
    total = 0.0
    for l, W in enumerate(net.weights):
        total += np.sum(W ** 2 * np.exp(2 * (full[l + 1][:, None] - full[l][None, :])))
        if net.biases is not None:
            total += np.sum(net.biases[l] ** 2 * np.exp(2 * full[l + 1]))
    return total


nets = st.builds(
    lambda seed, widths, bias, spread: random_net(np.random.default_rng(seed), widths, bias, spread),
    st.integers(0, 2**32 - 1), st.lists(st.integers(1, 6), min_size=3, max_size=6), st.booleans(),
    st.sampled_from([0.0, 1.0, 3.0]),
)


@given(nets, st.sampled_from(["newton", "enorm"]))
def test_balancing_reaches_tolerance_and_keeps_function(net, method):
    res = balance_neurons(net, 1e-12, method=method)
    assert res.converged, res.message
    D, scale = direct_D(res.net)
    # the returned figures agree with a direct computation to rounding of the squared norms
    assert np.abs(D).max() <= 1e-12 * scale + 64 * np.finfo(float).eps * scale
    assert abs(res.scale - scale) <= 1e-13 * scale
    x = np.random.default_rng(0).standard_normal((net.widths[0], 5))
    f0 = net.forward(x)
    assert np.linalg.norm(res.net.forward(x) - f0) <= 1e-12 * max(np.linalg.norm(f0), 1e-300)
    ref = rescale_neurons(net, res.scales)
    for w, r in zip(res.net.weights, ref.weights, strict=True):
        assert np.allclose(w, r, rtol=1e-14, atol=0)


@pytest.mark.parametrize("widths", [(2, 3, 3, 2), (3, 2, 4, 3, 1), (2, 4, 2)])
@pytest.mark.parametrize("bias", [False, True])
def test_newton_matches_brute_force_minimisation(widths, bias):
    rng = np.random.default_rng(sum(widths) + bias)
    net = random_net(rng, widths, bias, spread=1.0)
    n = sum(net.hidden_widths)
    ref = minimize(lambda u: F_of_u(net, u), np.zeros(n), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
    res = balance_neurons(net)
    u = np.log(np.concatenate(res.scales))
    # F is strictly convex near its minimiser with Hessian 4K: BFGS's u is accurate to ~sqrt(eps)
    assert np.allclose(u, ref.x, atol=1e-5)
    assert F_of_u(net, u) <= ref.fun * (1 + 1e-12)
    enorm = balance_neurons(net, method="enorm")
    assert np.allclose(np.log(np.concatenate(enorm.scales)), u, atol=1e-9)


def test_gradient_and_hessian_of_F_are_2D_and_4K():
    rng = np.random.default_rng(3)
    net = random_net(rng, (3, 4, 3, 5, 2), True, 0.5)
    n = sum(net.hidden_widths)
    u = 0.3 * rng.standard_normal(n)
    c = np.split(np.exp(u), np.cumsum(net.hidden_widths)[:-1])
    moved = rescale_neurons(net, c)
    h = 1e-5
    E = np.eye(n)
    grad = np.array([(F_of_u(net, u + h * E[i]) - F_of_u(net, u - h * E[i])) / (2 * h) for i in range(n)])
    assert np.allclose(grad, 2 * np.concatenate(imbalance(moved)), rtol=1e-7, atol=1e-7)
    h = 1e-4
    hess = np.array([[(F_of_u(net, u + h * (E[i] + E[j])) - F_of_u(net, u + h * (E[i] - E[j]))
                       - F_of_u(net, u - h * (E[i] - E[j])) + F_of_u(net, u - h * (E[i] + E[j]))) / (4 * h * h)
                      for j in range(n)] for i in range(n)])
    assert np.allclose(hess, 4 * torus_gram(moved), rtol=1e-5, atol=1e-5)


def test_one_hidden_layer_closed_form_and_newton_in_one_step():
    rng = np.random.default_rng(4)
    net = random_net(rng, (5, 8, 3), True, 3.0)
    cf = balance_one_hidden_layer(net)
    th = np.hstack([net.weights[0], net.biases[0][:, None]])
    c_ref = np.sqrt(np.linalg.norm(net.weights[1], axis=0) / np.linalg.norm(th, axis=1))
    assert np.allclose(cf.scales[0], c_ref, rtol=1e-14)
    assert cf.converged
    nt = balance_neurons(net)
    assert nt.iterations == 1 and np.allclose(nt.scales[0], c_ref, rtol=1e-13)
    with pytest.raises(ValueError, match="depth 2"):
        balance_one_hidden_layer(random_net(rng, (2, 3, 3, 2)))


def test_zero_neurons_are_reported_honestly():
    rng = np.random.default_rng(5)
    net = random_net(rng, (3, 4, 4, 2))
    W = [w.copy() for w in net.weights]
    W[2][:, 1] = 0.0  # neuron 1 of hidden layer 2: no outgoing weights, D = ||theta_in||^2 > 0
    res = balance_neurons(net.replace(weights=W))
    assert not res.converged and "cannot be balanced" in res.message
    assert res.unbalanceable[1][1] and res.unbalanceable[1].sum() == 1 and not res.unbalanceable[0].any()
    assert res.scales[1][1] == 1.0 and res.iterations < 10
    D, scale = direct_D(res.net)
    others = np.ones(D.size, bool)
    others[4 + 1] = False
    assert np.abs(D[others]).max() <= 2e-12 * scale
    # a neuron dead on both sides has D = 0: balancing converges
    W[1][1, :] = 0.0
    b = [v.copy() for v in net.biases]
    b[1][1] = 0.0
    res = balance_neurons(net.replace(weights=W, biases=b))
    assert res.converged, res.message
    # a zero layer W_2: every neuron of hidden layer 1 is stuck (no outgoing weights); those of hidden
    # layer 2 still have their bias as incoming weight, so they are balanceable; without biases not
    Z = [w.copy() for w in net.weights]
    Z[1][:] = 0.0
    res = balance_neurons(net.replace(weights=Z))
    assert not res.converged and res.unbalanceable[0].all() and not res.unbalanceable[1].any()
    res = balance_neurons(homogeneous_net(Z))
    assert not res.converged and res.unbalanceable[0].all() and res.unbalanceable[1].all()


@pytest.mark.parametrize("exponent", [-500, -300, 300, 500])
def test_any_representable_scale(exponent):
    rng = np.random.default_rng(6)
    net = random_net(rng, (3, 5, 4, 2), True, 2.0)
    big = net.replace(weights=[np.ldexp(w, exponent) for w in net.weights],
                      biases=[np.ldexp(v, exponent) for v in net.biases])
    r0, r1 = balance_neurons(net), balance_neurons(big)
    assert r1.converged and r1.relative_imbalance <= 1e-12
    for c0, c1 in zip(r0.scales, r1.scales, strict=True):
        assert np.allclose(c0, c1, rtol=1e-12)
    assert np.isclose(np.ldexp(r1.scale, -2 * exponent), r0.scale, rtol=1e-12)
    assert np.isclose(np.ldexp(r1.max_imbalance, -2 * exponent), r0.max_imbalance, rtol=1e-6, atol=1e-13 * r0.scale)


def test_cap_and_validation():
    rng = np.random.default_rng(7)
    net = random_net(rng, (4, 6, 6, 6, 3), True, 3.0)
    res = balance_neurons(net, method="enorm", max_iter=2)
    assert not res.converged and res.iterations == 2 and "cap" in res.message
    assert len(res.history) == 3
    with pytest.raises(ValueError, match="tol"):
        balance_neurons(net, tol=0.0)
    with pytest.raises(ValueError, match="method"):
        balance_neurons(net, method="sinkhorn")
    with pytest.raises(TypeError, match="max_iter"):
        balance_neurons(net, max_iter=2.5)
    one = balance_neurons(homogeneous_net([np.ones((2, 3))]))
    assert one.converged and one.iterations == 0


def _degrade(net, rng, kind):
    """Degenerate inputs: a zero layer, a dead neuron, a global rescaling, or nothing."""
    W = [w.copy() for w in net.weights]
    if kind == "zero_layer" and len(W) > 2:
        W[int(rng.integers(1, len(W)))][:] = 0.0
    elif kind == "dead_neuron":
        l = int(rng.integers(0, len(W) - 1))
        W[l + 1][:, int(rng.integers(W[l].shape[0]))] = 0.0
    elif kind == "rescaled":
        W = [np.ldexp(w, 200) for w in W]
        return net.replace(weights=W, biases=None if net.biases is None else [np.ldexp(v, 200) for v in net.biases])
    return net.replace(weights=W)


@given(nets, st.sampled_from(["zero_layer", "dead_neuron", "rescaled", "none"]), st.integers(0, 2**32 - 1),
       st.sampled_from(["newton", "enorm"]))
def test_converged_flag_is_honest(net, kind, seed, method):
    rng = np.random.default_rng(seed)
    net = _degrade(net, rng, kind)
    res = balance_neurons(net, 1e-10, method=method, max_iter=200 if method == "newton" else 5000)
    D, scale = direct_D(res.net)
    rel = np.abs(D).max() / scale if scale > 0 else 0.0
    slack = 64 * np.finfo(float).eps  # the two measurements differ by the rounding of the squared norms
    if res.converged:
        assert rel <= 1e-10 + slack
    else:
        assert rel >= 1e-10 - slack and res.message
        # only neurons that rescaling cannot balance may be left unbalanced
        stuck = np.concatenate(res.unbalanceable)
        assert stuck.any()
        assert np.abs(D[~stuck]).max(initial=0.0) <= 1e-10 * scale + slack * scale
