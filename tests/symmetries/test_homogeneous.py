"""Homogeneous networks: forward pass against a per-sample loop, gradients against central finite
differences (every activation, with and without biases), validation and updates."""

import numpy as np
import pytest

from dln_git.symmetries.homogeneous import (
    HomogeneousNet,
    cross_entropy_loss_and_grad,
    gd_step,
    homogeneous_net,
    mse_loss_and_grad,
)

ACTS = ("relu", "leaky_relu", "linear")


def _net(rng, widths, activation, bias, slope=0.1):
    W = [rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i]) for i in range(len(widths) - 1)]
    b = [rng.standard_normal(d) for d in widths[1:]] if bias else None
    return homogeneous_net(W, b, activation, slope)


def _loop_forward(net, x):
    """Reference: one sample at a time, activation written out with Python scalars."""
    out = []
    for k in range(x.shape[1]):
        h = list(x[:, k])
        for l, W in enumerate(net.weights):
            z = [sum(W[i, j] * h[j] for j in range(len(h))) + (net.biases[l][i] if net.biases else 0.0)
                 for i in range(W.shape[0])]
            if l < net.depth - 1:
                if net.activation == "relu":
                    z = [max(v, 0.0) for v in z]
                elif net.activation == "leaky_relu":
                    z = [v if v > 0 else net.negative_slope * v for v in z]
            h = z
        out.append(h)
    return np.array(out).T


def _fd_check(net, loss, rng, eps=1e-6):
    _, (gW, gb) = loss(net)
    params = [("w", l) for l in range(net.depth)] + ([("b", l) for l in range(net.depth)] if net.biases else [])
    worst = 0.0
    for kind, l in params:
        base = net.weights[l] if kind == "w" else net.biases[l]
        grad = gW[l] if kind == "w" else gb[l]
        for _ in range(3):
            D = rng.standard_normal(base.shape)
            def shifted(t, kind=kind, l=l, D=D):
                if kind == "w":
                    Ws = list(net.weights)
                    Ws[l] = Ws[l] + t * D
                    return loss(net.replace(weights=Ws))[0]
                bs = list(net.biases)
                bs[l] = bs[l] + t * D
                return loss(net.replace(biases=bs))[0]
            fd = (shifted(eps) - shifted(-eps)) / (2 * eps)
            an = float(np.sum(grad * D))
            worst = max(worst, abs(fd - an) / max(1.0, abs(an)))
    return worst


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("bias", [False, True])
def test_forward_matches_loop(activation, bias):
    rng = np.random.default_rng(1)
    net = _net(rng, (3, 4, 5, 2), activation, bias)
    x = rng.standard_normal((3, 6))
    assert np.allclose(net.forward(x), _loop_forward(net, x), rtol=1e-13, atol=1e-13)
    assert net.widths == (3, 4, 5, 2) and net.depth == 3 and net.hidden_widths == (4, 5)


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_gradients_match_finite_differences(activation, bias, depth):
    rng = np.random.default_rng(10 * depth + bias)
    widths = tuple(int(v) for v in rng.integers(2, 6, depth + 1))
    net = _net(rng, widths, activation, bias)
    n = 7
    x = rng.standard_normal((widths[0], n))
    y = rng.standard_normal((widths[-1], n))
    labels = rng.integers(0, widths[-1], n)
    # central differences with eps = 1e-6 have error ~ eps^2 f''' + eps_mach f / eps ~ 1e-10;
    # a ReLU kink inside [-eps, eps] has probability ~ 1e-6 per unit per sample on Gaussian data
    assert _fd_check(net, lambda m: mse_loss_and_grad(m, x, y), rng) < 1e-7
    assert _fd_check(net, lambda m: cross_entropy_loss_and_grad(m, x, labels), rng) < 1e-7


def test_cross_entropy_value_against_direct_formula():
    rng = np.random.default_rng(3)
    net = _net(rng, (3, 4, 5), "relu", True)
    x = rng.standard_normal((3, 9))
    labels = rng.integers(0, 5, 9)
    z = net.forward(x)
    direct = -np.mean([np.log(np.exp(z[labels[k], k]) / np.exp(z[:, k]).sum()) for k in range(9)])
    assert abs(cross_entropy_loss_and_grad(net, x, labels)[0] - direct) < 1e-13
    # large logits: the shifted log-sum-exp stays finite
    big = net.replace(weights=[net.weights[0], 1e4 * net.weights[1]])
    v, (gW, _) = cross_entropy_loss_and_grad(big, x, labels)
    assert np.isfinite(v) and all(np.isfinite(g).all() for g in gW)


def test_gd_step_and_replace_copy():
    rng = np.random.default_rng(4)
    net = _net(rng, (2, 3, 2), "leaky_relu", True)
    x, y = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    _, grads = mse_loss_and_grad(net, x, y)
    new = gd_step(net, grads, 0.1)
    assert np.allclose(new.weights[0], net.weights[0] - 0.1 * grads[0][0], rtol=0, atol=1e-15)
    assert np.allclose(new.biases[1], net.biases[1] - 0.1 * grads[1][1], rtol=0, atol=1e-15)
    assert new.activation == "leaky_relu" and new.negative_slope == net.negative_slope
    # small step decreases the loss
    assert mse_loss_and_grad(gd_step(net, grads, 1e-3), x, y)[0] < mse_loss_and_grad(net, x, y)[0]
    W = [rng.standard_normal((3, 2)), rng.standard_normal((2, 3))]
    m = homogeneous_net(W)
    W[0][0, 0] = 99.0
    assert m.weights[0][0, 0] != 99.0
    with pytest.raises(ValueError, match="lr"):
        gd_step(net, grads, -1.0)
    with pytest.raises(ValueError, match="bias"):
        gd_step(homogeneous_net(W), (grads[0], grads[1]), 0.1)


class _ArrayLike:
    """Minimal stand-in for a torch/JAX array: only ``__array__``."""

    def __init__(self, a):
        self._a = np.asarray(a, dtype=np.float32)

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


def test_accepts_array_likes_as_float64():
    rng = np.random.default_rng(5)
    net = homogeneous_net([_ArrayLike(rng.standard_normal((3, 2))), _ArrayLike(rng.standard_normal((1, 3)))],
                          [_ArrayLike(np.zeros(3)), _ArrayLike(np.zeros(1))])
    assert all(w.dtype == np.float64 for w in net.weights + net.biases)


def test_validation_errors_name_layer_and_shapes():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match=r"layer 2: W_2 has shape \(2, 4\).*expected shape \(2, 3\)"):
        homogeneous_net([rng.standard_normal((3, 2)), rng.standard_normal((2, 4))])
    with pytest.raises(ValueError, match=r"b_1 has shape \(2,\), expected \(3,\)"):
        homogeneous_net([rng.standard_normal((3, 2)), rng.standard_normal((1, 3))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(ValueError, match="NaN or inf"):
        homogeneous_net([np.array([[np.nan]])])
    with pytest.raises(TypeError, match="real"):
        homogeneous_net([np.ones((2, 2)) * 1j])
    with pytest.raises(ValueError, match="activation"):
        homogeneous_net([np.ones((2, 2))], activation="tanh")
    with pytest.raises(ValueError, match="entries"):
        homogeneous_net([np.ones((2, 2)), np.ones((1, 2))], [np.ones(2)])
    net = homogeneous_net([np.ones((2, 3))])
    with pytest.raises(ValueError, match="rows"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="labels"):
        cross_entropy_loss_and_grad(net, np.ones((3, 4)), np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="y"):
        mse_loss_and_grad(net, np.ones((3, 4)), np.ones((2, 3)))
    assert isinstance(net, HomogeneousNet)
