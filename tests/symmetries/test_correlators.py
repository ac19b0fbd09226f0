"""Monte Carlo correlators against closed-form two-point functions, and the invariance tests.

References (independent of the sampling code): the DLN kernel ``prod v_l prod d_hidden x.x' delta``,
the arc-cosine kernel of one ReLU layer (Cho & Saul 2009), the RBF kernels of the Gauss-net and
the cos-net, the exact standard deviation of a product of two independent Gaussians. Fixed seeds;
the threshold is the Bonferroni z at false alarm 1e-6 used by the claims.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dln_git.core import haar_orthonormal
from dln_git.symmetries.architectures import NetworkFamily, evaluate, network_family, sample_draws
from dln_git.symmetries.correlators import (
    _summarise,
    bonferroni_z,
    correlator,
    input_invariance_test,
    output_invariance_test,
    reflection_moving,
    z_threshold,
)

Z = z_threshold(1e-6)


def _z_against(est, reference):
    return _summarise(est.mean - reference, est.stderr, est.n_draws).z_equivalent


def test_dln_two_point_is_product_of_variances():
    fam = network_family("linear", (3, 4, 5, 2), sigma_w=[1.0, 1.3, 0.7])
    x = np.random.default_rng(0).standard_normal((2, 3))
    est = correlator(fam, x, 20000, 1)
    v = np.array(fam.weight_std) ** 2
    ref = np.prod(v) * 4 * 5 * (x[0] @ x[1]) * np.eye(2)
    assert _z_against(est, ref) <= Z
    assert _z_against(est, 1.3 * ref) > Z


def _arccos_kernel(x, y, s_w, s_b):
    """E[relu(w.x + b) relu(w.y + b)], w ~ N(0, s_w^2 I), b ~ N(0, s_b^2) (Cho & Saul, degree 1)."""
    kxy = s_w**2 * x @ y + s_b**2
    kxx, kyy = s_w**2 * x @ x + s_b**2, s_w**2 * y @ y + s_b**2
    theta = np.arccos(np.clip(kxy / np.sqrt(kxx * kyy), -1, 1))
    return np.sqrt(kxx * kyy) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))


@pytest.mark.parametrize("d1", [1, 3])
def test_relu_one_hidden_layer_is_the_arccos_kernel(d1):
    fam = network_family("relu", (3, d1, 2), sigma_w=[1.2, 0.9], sigma_b=[0.5, 0.3])
    x = np.random.default_rng(d1).standard_normal((2, 3))
    est = correlator(fam, x, 30000, 2)
    k = _arccos_kernel(x[0], x[1], fam.weight_std[0], fam.bias_std[0])
    ref = (d1 * fam.weight_std[1] ** 2 * k + fam.bias_std[1] ** 2) * np.eye(2)
    assert _z_against(est, ref) <= Z
    assert _z_against(est, 1.15 * ref) > Z  # the comparison can fail


@pytest.mark.parametrize(("kind", "c"), [("gauss", 1.0), ("cos", 0.5)])
@pytest.mark.parametrize("d1", [1, 4])
def test_gauss_and_cos_nets_are_rbf_at_finite_width(kind, c, d1):
    fam = network_family(kind, (2, d1, 2), sigma_w=[1.1, 1.0], sigma_b=[0.0 if kind == "cos" else 0.4, 0.3])
    x = np.random.default_rng(7).standard_normal((2, 2)) * 0.7
    est = correlator(fam, x, 30000, 3)
    s2 = fam.weight_std[0] ** 2
    ref = (c * d1 * fam.weight_std[1] ** 2 * np.exp(-s2 * np.sum((x[0] - x[1]) ** 2) / 2) + 0.09) * np.eye(2)
    assert _z_against(est, ref) <= Z
    assert _z_against(est, ref + 0.3 * np.eye(2)) > Z


def test_standard_error_is_the_per_draw_one():
    # one linear layer, i != j: f_0(x) f_1(x') is a product of independent N(0, v|x|^2), N(0, v|x'|^2)
    fam = NetworkFamily("linear", (3, 2), (0.0,), (0.8,), (0.0,), (0.0,))
    x = np.random.default_rng(4).standard_normal((2, 3))
    S = 40000
    est = correlator(fam, x, S, 5)
    sd = 0.64 * np.linalg.norm(x[0]) * np.linalg.norm(x[1])
    assert est.stderr[0, 1] == pytest.approx(sd / np.sqrt(S), rel=0.05)


def test_bonferroni_z_matches_the_normal_quantile():
    for z, K in [(3.0, 1), (4.0, 10), (6.0, 300), (12.0, 50)]:
        p = min(1.0, K * 2 * stats.norm.sf(z))
        assert bonferroni_z(z, K) == pytest.approx(stats.norm.isf(p / 2), rel=1e-9)
    assert bonferroni_z(1.0, 100) == 0.0
    assert bonferroni_z(60.0, 100) > 55  # far tail without underflow
    assert z_threshold(1e-6) == pytest.approx(stats.norm.isf(5e-7))


def _families(mean=0.0):
    return [network_family("linear", (3, 3, 4, 3), last_weight_mean=mean),
            network_family("relu", (3, 5, 3), sigma_b=0.3, last_weight_mean=mean),
            network_family("gauss", (3, 4, 3), sigma_b=[0.2, 0.1], last_weight_mean=mean),
            network_family("cos", (3, 4, 3), last_weight_mean=mean)]


def test_output_rotation_invariance_and_its_breaking():
    rng = np.random.default_rng(11)
    for fam in _families():
        R = haar_orthonormal(3, 3, rng)
        for n in (1, 2, 3, 4):
            assert output_invariance_test(fam, rng.standard_normal((n, 3)) / 2, R, 3000, rng).z_equivalent <= Z
    for fam in _families(mean=2.0):
        R = reflection_moving(np.ones(3), rng)
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-14) and abs(R @ np.ones(3) @ np.ones(3)) < 1e-12
        x = np.repeat(rng.standard_normal((1, 3)), 2, axis=0)  # G^(2)(x, x): a DLN's G^(2) vanishes at x.x' = 0
        assert output_invariance_test(fam, x, R, 8000, rng).z_equivalent > 10


def test_input_rotation_and_translation():
    rng = np.random.default_rng(12)
    for fam in _families(mean=0.7):
        R = haar_orthonormal(3, 3, rng)
        for n in (1, 2, 4):
            t = input_invariance_test(fam, rng.standard_normal((n, 3)) / 2, lambda x, R=R: x @ R.T, 3000, rng)
            assert t.z_equivalent <= Z
    cos, gauss, gauss_centred = _families(mean=0.7)[3], _families(mean=0.7)[2], _families()[2]
    c = np.array([0.8, -0.5, 0.3])
    for n in (1, 2, 3):
        assert input_invariance_test(cos, rng.standard_normal((n, 3)) / 2, lambda x: x + c, 3000, rng).z_equivalent <= Z
    # the centred Gauss-net's 2-point function is translation invariant, its 1-point function (mean 0.7) is not
    x2 = rng.standard_normal((2, 3)) / 2
    assert input_invariance_test(gauss_centred, x2, lambda x: x + c, 3000, rng).z_equivalent <= Z
    x1 = np.array([[0.5, 0.2, -0.3]])
    assert input_invariance_test(gauss, x1, lambda x: x + 2 * c, 20000, rng).z_equivalent > 10
    # a non-orthogonal map (scaling) moves the DLN's G^(2)(x, x)
    x = np.vstack([x1, x1])
    assert input_invariance_test(_families()[0], x, lambda y: 2 * y, 8000, rng).z_equivalent > 10


def test_draws_are_seeded_and_shapes_validated():
    fam = _families()[1]
    a = evaluate(sample_draws(fam, 5, 3), np.ones((2, 3)))
    b = evaluate(sample_draws(fam, 5, np.random.default_rng(3)), np.ones((2, 3)))
    assert a.shape == (5, 2, 3) and np.array_equal(a, b)
    with pytest.raises(ValueError, match="points"):
        correlator(fam, np.ones((2, 4)), 100, 0)
    with pytest.raises(ValueError, match="NaN"):
        correlator(fam, np.array([[np.nan, 0, 0]]), 100, 0)
    with pytest.raises(ValueError, match="R"):
        output_invariance_test(fam, np.ones((1, 3)), np.eye(2), 100, 0)
    with pytest.raises(TypeError, match="n_draws"):
        correlator(fam, np.ones((1, 3)), 10.5, 0)
    with pytest.raises(ValueError, match="kind"):
        network_family("tanh", (2, 2))
    with pytest.raises(ValueError, match="one hidden layer"):
        network_family("gauss", (2, 2, 2, 2))
    with pytest.raises(ValueError, match="sigma_w"):
        network_family("relu", (2, 2, 2), sigma_w=[1.0, -1.0])
