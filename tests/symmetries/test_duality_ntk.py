"""Empirical NTK: the back-propagated Jacobian against central finite differences, the DLN NTK against
its closed form, and the input-rotation identity Theta(Rx, Rx'; W) = Theta(x, x'; W_1 R) (exact for
orthogonal R, failing otherwise)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dln_git.core import haar_orthonormal
from dln_git.symmetries.architectures import NetworkDraws, evaluate, network_family, sample_draws
from dln_git.symmetries.ntk import empirical_ntk, parameter_jacobian, rotate_first_layer

FAMILIES = [("linear", (3, 4, 5, 2)), ("relu", (3, 6, 4, 2)), ("gauss", (3, 5, 2)), ("cos", (3, 5, 2))]


def _one_draw(fam, seed):
    d = sample_draws(fam, 1, seed)
    return [w[0] for w in d.weights], [b[0] for b in d.biases]


@pytest.mark.parametrize(("kind", "widths"), FAMILIES)
def test_jacobian_matches_finite_differences(kind, widths):
    fam = network_family(kind, widths, sigma_b=0.5, last_weight_mean=0.2)
    W, b = _one_draw(fam, 1)
    x = np.random.default_rng(2).standard_normal(3)
    J = parameter_jacobian(fam, W, b, x)
    shapes = [(Wl.shape, bl.shape) for Wl, bl in zip(W, b, strict=True)]
    theta = np.concatenate([np.concatenate([Wl.ravel(), bl]) for Wl, bl in zip(W, b, strict=True)])

    def f(th):
        Ws, bs, k = [], [], 0
        for (ws, bsh) in shapes:
            Ws.append(th[k:k + np.prod(ws)].reshape(ws)[None])
            k += int(np.prod(ws))
            bs.append(th[k:k + bsh[0]][None])
            k += bsh[0]
        return evaluate(NetworkDraws(fam, tuple(Ws), tuple(bs)), x)[0, 0]

    h = 1e-6
    J_fd = np.stack([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(theta.size)], axis=1)
    assert J.shape == J_fd.shape
    assert np.abs(J - J_fd).max() <= 1e-7 * max(1.0, np.abs(J).max())


def test_dln_ntk_closed_form():
    # f = W_N..W_1 x + sum_l B_l b_l with B_l = W_N..W_{l+1}: Theta = sum_l (h_{l-1}.h'_{l-1} + 1) B_l B_l^T
    fam = network_family("linear", (3, 4, 2, 3), sigma_b=0.7)
    W, b = _one_draw(fam, 3)
    x, y = np.random.default_rng(4).standard_normal((2, 3))
    hx, hy = [x], [y]
    for Wl, bl in zip(W[:-1], b[:-1], strict=True):
        hx.append(Wl @ hx[-1] + bl)
        hy.append(Wl @ hy[-1] + bl)
    ref = np.zeros((3, 3))
    for layer in range(3):
        B = np.eye(3)
        for k in range(2, layer, -1):
            B = B @ W[k]
        ref += (hx[layer] @ hy[layer] + 1) * B @ B.T
    assert np.allclose(empirical_ntk(fam, W, b, x, y), ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize(("kind", "widths"), FAMILIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ntk_rotation_identity(kind, widths, seed):
    rng = np.random.default_rng(seed)
    fam = network_family(kind, widths, sigma_b=0.3)
    W, b = _one_draw(fam, rng)
    x, y = rng.standard_normal((2, 3))
    R = haar_orthonormal(3, 3, rng)
    T1 = empirical_ntk(fam, W, b, R @ x, R @ y)
    T2 = empirical_ntk(fam, rotate_first_layer(W, R), b, x, y)
    assert np.abs(T1 - T2).max() <= 1e-12 * np.abs(T1).max()
    if kind != "relu":
        S = np.diag([1.5, 2.0, 2.5]) @ R
        T3 = empirical_ntk(fam, W, b, S @ x, S @ x)
        T4 = empirical_ntk(fam, rotate_first_layer(W, S), b, x, x)
        assert abs(np.trace(T3 - T4)) > 1e-3 * abs(np.trace(T3))


def test_ntk_identity_with_a_zero_first_layer_and_validation():
    fam = network_family("relu", (3, 4, 2), sigma_b=0.5)
    W, b = _one_draw(fam, 5)
    W[0] = np.zeros_like(W[0])
    R = haar_orthonormal(3, 3, 6)
    x, y = np.ones(3), np.arange(3.0)
    assert np.allclose(empirical_ntk(fam, W, b, R @ x, R @ y), empirical_ntk(fam, rotate_first_layer(W, R), b, x, y),
                       rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="layer 1"):
        parameter_jacobian(fam, [np.ones((4, 2)), W[1]], b, x)
    with pytest.raises(ValueError, match="x must be"):
        parameter_jacobian(fam, W, b, np.ones(4))


@given(kind=st.sampled_from(["linear", "relu", "gauss", "cos"]), d0=st.integers(1, 4), d1=st.integers(1, 5),
       D=st.integers(1, 3), scale=st.sampled_from([1e-3, 1.0, 1e3]), zero_layer=st.sampled_from([None, 0, 1]),
       seed=st.integers(0, 2**16))
def test_ntk_identity_property(kind, d0, d1, D, scale, zero_layer, seed):
    # degenerate instances: a zero layer, widths 1, weights rescaled by 1e-3..1e3 (unbalanced layers)
    rng = np.random.default_rng(seed)
    widths = (d0, d1, d1, D) if kind in ("linear", "relu") else (d0, d1, D)
    fam = network_family(kind, widths, sigma_b=0.2)
    W, b = _one_draw(fam, rng)
    W[-1] = W[-1] * scale
    if zero_layer is not None:
        W[zero_layer] = np.zeros_like(W[zero_layer])
    x, y = rng.standard_normal((2, d0))
    R = haar_orthonormal(d0, d0, rng)
    T1 = empirical_ntk(fam, W, b, R @ x, R @ y)
    T2 = empirical_ntk(fam, rotate_first_layer(W, R), b, x, y)
    assert np.abs(T1 - T2).max() <= 1e-12 * max(np.abs(T1).max(), 1e-300)
