"""The orbit-selection penalty: gradient against finite differences, tangency (f unchanged to first
order), dD/dt = -2 rho K D against a finite-difference derivative of D, conservation of D by the
loss gradient, and the flow (function kept, imbalance falling, one-hidden-layer closed form)."""

import numpy as np
import pytest

from dln_git.symmetries.homogeneous import homogeneous_net, mse_loss_and_grad
from dln_git.symmetries.neuron_torus import gauge_coordinates, imbalance, torus_gram
from dln_git.symmetries.penalty import one_hidden_layer_tau, orbit_penalty, orbit_penalty_grad, penalty_flow

ACTS = ("relu", "leaky_relu", "linear")


def random_net(rng, widths, activation="relu", bias=True, spread=0.0):
    """Gaussian weights; ``spread`` > 0 multiplies each layer by exp(U(-spread, spread)) (imbalanced)."""
    W = [rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i]) * np.exp(rng.uniform(-spread, spread))
         for i in range(len(widths) - 1)]
    b = [0.3 * rng.standard_normal(d) for d in widths[1:]] if bias else None
    return homogeneous_net(W, b, activation, 0.1)


def _shift(net, grads, h):
    gW, gb = grads
    return net.replace(weights=[w + h * g for w, g in zip(net.weights, gW, strict=True)],
                       biases=None if gb is None else [v + h * g for v, g in zip(net.biases, gb, strict=True)])


def _random_direction(net, rng):
    return (tuple(rng.standard_normal(w.shape) for w in net.weights),
            None if net.biases is None else tuple(rng.standard_normal(v.shape) for v in net.biases))


def _dot(a, b):
    s = sum(np.sum(x * y) for x, y in zip(a[0], b[0], strict=True))
    return s + (sum(np.sum(x * y) for x, y in zip(a[1], b[1], strict=True)) if a[1] is not None else 0.0)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("widths", [(3, 4, 2), (2, 5, 3, 4, 1)])
def test_penalty_gradient_matches_finite_differences(bias, widths):
    rng = np.random.default_rng(len(widths) + bias)
    net = random_net(rng, widths, bias=bias, spread=0.5)
    rho = 0.7
    g = orbit_penalty_grad(net, rho)
    for _ in range(4):
        V = _random_direction(net, rng)
        h = 1e-5
        fd = (orbit_penalty(_shift(net, V, h), rho) - orbit_penalty(_shift(net, V, -h), rho)) / (2 * h)
        # quartic polynomial: central differences err by h^2 Phi''' ~ 1e-10 relative
        assert abs(fd - _dot(g, V)) <= 1e-8 * max(1.0, abs(fd))
    # direct formula of the penalty
    ref = 0.25 * rho * sum(np.sum(d ** 2) for d in imbalance(net))
    assert abs(orbit_penalty(net, rho) - ref) <= 1e-14 * ref


@pytest.mark.parametrize("activation", ACTS)
def test_penalty_gradient_is_tangent_to_the_orbit(activation):
    rng = np.random.default_rng(5)
    net = random_net(rng, (3, 6, 5, 2), activation, spread=1.0)
    x = rng.standard_normal((3, 10))
    g = orbit_penalty_grad(net, 1.0)
    gnorm = np.sqrt(_dot(g, g))
    h = 1e-4 / gnorm
    df = (_shift(net, g, h).forward(x) - _shift(net, g, -h).forward(x)) / (2 * h)
    # a random direction of the same size moves f at O(1); along grad Phi only the O(h^2) remainder
    V = _random_direction(net, rng)
    dV = (_shift(net, V, h).forward(x) - _shift(net, V, -h).forward(x)) / (2 * h)
    assert np.linalg.norm(df) <= 1e-6 * gnorm * np.linalg.norm(dV) / np.sqrt(_dot(V, V))


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("bias", [False, True])
def test_imbalance_rate_is_minus_2_rho_K_D(activation, bias):
    rng = np.random.default_rng(7)
    net = random_net(rng, (3, 4, 5, 3, 2), activation, bias, spread=0.7)
    rho = 1.3
    g = orbit_penalty_grad(net, rho)
    h = 1e-6
    dD = (np.concatenate(imbalance(_shift(net, g, -h))) - np.concatenate(imbalance(_shift(net, g, h)))) / (2 * h)
    D = np.concatenate(imbalance(net))
    pred = -2 * rho * torus_gram(net) @ D
    assert np.allclose(dD, pred, rtol=1e-6, atol=1e-7 * np.abs(pred).max())
    # the loss gradient conserves D (Euler's identity), so with the loss on dD/dt is the same
    x, y = rng.standard_normal((3, 12)), rng.standard_normal((2, 12))
    _, gE = mse_loss_and_grad(net, x, y)
    dDE = (np.concatenate(imbalance(_shift(net, gE, -h))) - np.concatenate(imbalance(_shift(net, gE, h)))) / (2 * h)
    assert np.abs(dDE).max() <= 1e-7 * max(1.0, np.sqrt(_dot(gE, gE)))


@pytest.mark.parametrize("method", ["weights", "group"])
def test_penalty_flow_keeps_function_and_balances(method):
    rng = np.random.default_rng(11)
    net = random_net(rng, (3, 6, 5, 2), "relu", spread=1.0)
    x = rng.standard_normal((3, 20))
    res = penalty_flow(net, 1.0, 30.0, method=method, rtol=1e-11)
    assert res.converged, res.message
    f0 = net.forward(x)
    drift = max(np.linalg.norm(m.forward(x) - f0) for m in res.nets) / np.linalg.norm(f0)
    assert drift <= 1e-6
    assert res.max_imbalance[-1] <= 1e-6 * res.max_imbalance[0]
    # d||D||^2/dt = -4 rho <D, K D> <= 0: ||D|| decreases, up to the integrator's global error (measured
    # ~2e-9 of ||D(0)|| at rtol 1e-11 over this horizon; 1e-7 leaves a margin and still fails on any real rise)
    norms = np.linalg.norm(np.array([np.concatenate(imbalance(m)) for m in res.nets]), axis=1)
    assert np.all(np.diff(norms) <= 1e-7 * norms[0])


@pytest.mark.parametrize("bias", [False, True])
def test_one_hidden_layer_closed_form(bias):
    rng = np.random.default_rng(13)
    net = random_net(rng, (4, 7, 3), bias=bias, spread=1.0)
    rho = 0.5
    res = penalty_flow(net, rho, 4.0, method="weights", rtol=1e-12, n_times=9)
    c0 = gauge_coordinates(net)
    for t, m in zip(res.times, res.nets, strict=True):
        tau = gauge_coordinates(m).tau[0]
        ref = one_hidden_layer_tau(c0.tau[0], c0.P[0], rho, t)
        assert np.abs(tau - ref).max() <= 1e-9
        assert np.allclose(gauge_coordinates(m).P[0], c0.P[0], rtol=1e-9)


def test_one_hidden_layer_tau_solves_its_ode():
    """d tau/dt = -2 rho P sinh(2 tau) by central differences in t (independent of the flow code)."""
    tau0, P, rho = np.array([-1.5, 0.2, 2.0]), np.array([0.3, 1.0, 2.5]), 0.8
    for t in (0.05, 0.3, 1.0):
        h = 1e-6
        d = (one_hidden_layer_tau(tau0, P, rho, t + h) - one_hidden_layer_tau(tau0, P, rho, t - h)) / (2 * h)
        tau = one_hidden_layer_tau(tau0, P, rho, t)
        assert np.allclose(d, -2 * rho * P * np.sinh(2 * tau), rtol=1e-5)


def test_flow_with_loss_runs_and_penalty_tracks_prediction():
    rng = np.random.default_rng(17)
    net = random_net(rng, (3, 5, 2), "leaky_relu", spread=1.0)
    x, y = rng.standard_normal((3, 15)), rng.standard_normal((2, 15))
    res = penalty_flow(net, 1.0, 2.0, loss=lambda m: mse_loss_and_grad(m, x, y), rtol=1e-10)
    assert res.converged
    assert mse_loss_and_grad(res.net, x, y)[0] < mse_loss_and_grad(net, x, y)[0]
    assert res.max_imbalance[-1] < res.max_imbalance[0]
    with pytest.raises(ValueError, match="group"):
        penalty_flow(net, 1.0, 1.0, loss=lambda m: mse_loss_and_grad(m, x, y), method="group")
    with pytest.raises(ValueError, match="rho"):
        orbit_penalty(net, 0.0)
