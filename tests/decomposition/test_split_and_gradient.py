"""Gradient of L = E(phi(W)) + lam R(W) and the vertical/horizontal split (docs/math section 4),
against the explicit products B_j^* G F_{j-1}^*, finite differences and the dense projector."""

from __future__ import annotations

import numpy as np
import pytest
from decomp_helpers import grad_data, product, random_matrix, tnorm
from hypothesis import given, settings
from hypothesis import strategies as st

from dln_git.core import project_orbit
from dln_git.decomposition import loss_gradient, loss_value_and_gradient, split, split_training_velocity
from dln_git.testing import strategies as dst
from dln_git.testing.dense import dense_end_to_end_jacobian, dense_projection_vertical, flatten
from dln_git.testing.losses import LOSS_KINDS, random_loss


@settings(max_examples=15)
@given(data=st.data())
def test_gradient_is_the_explicit_product_formula(data):
    widths = data.draw(dst.widths(max_depth=4, max_width=4))
    cx = data.draw(st.booleans())
    W = data.draw(dst.weights(widths, complex=cx))
    kind = data.draw(st.sampled_from(LOSS_KINDS))
    lam = data.draw(st.floats(0.0, 2.0))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    loss = random_loss((widths[-1], widths[0]), kind, rng, complex=cx)
    g = loss_value_and_gradient(W, loss, lam)
    G = loss(product(W))[1]
    expected = [gd + lam * w for gd, w in zip(grad_data(W, G), W, strict=True)]
    assert tnorm([a - b for a, b in zip(g.grad, expected, strict=True)]) <= 1e-12 * max(tnorm(expected), 1e-300)
    assert g.value == pytest.approx(loss(product(W))[0] + lam * 0.5 * tnorm(W) ** 2, rel=1e-12)


def test_gradient_passes_the_taylor_test():
    rng = np.random.default_rng(3)
    W = tuple(rng.standard_normal(s) for s in [(3, 2), (4, 3), (2, 4)])
    D = tuple(rng.standard_normal(w.shape) for w in W)
    loss = random_loss((2, 2), "sensing", rng)
    lam = 0.3

    def L(V):
        return loss(product(V))[0] + lam * 0.5 * tnorm(V) ** 2

    g = loss_gradient(W, loss, lam)
    slope = sum(float(np.sum(a * b)) for a, b in zip(g, D, strict=True))
    rem = [abs(L([w + h * d for w, d in zip(W, D, strict=True)]) - L(W) - h * slope) for h in (1e-3, 5e-4)]
    assert rem[0] / rem[1] == pytest.approx(4.0, rel=0.02)  # O(h^2): the first-order term is exact


@pytest.mark.parametrize("widths", [(3, 3, 3), (2, 4, 4, 2), (1, 2, 3, 3), (3, 2, 1), (4, 4)])
@pytest.mark.parametrize("complex_", [False, True])
def test_split_matches_the_dense_projector(widths, complex_):
    rng = np.random.default_rng(len(widths) + 7 * complex_)
    W = tuple(random_matrix(rng, (widths[i], widths[i - 1]), complex_) for i in range(1, len(widths)))
    V = tuple(random_matrix(rng, w.shape, complex_) for w in W)
    vertical, horizontal = split(W, V)
    P_V = dense_projection_vertical(W)
    np.testing.assert_allclose(flatten(vertical), P_V @ flatten(V), atol=1e-10 * tnorm(V))
    np.testing.assert_allclose(flatten(vertical) + flatten(horizontal), flatten(V), atol=1e-14 * tnorm(V))
    J = dense_end_to_end_jacobian(W)
    assert np.linalg.norm(J @ flatten(vertical)) <= 1e-10 * tnorm(V) * np.linalg.norm(J, 2)


@pytest.mark.parametrize("widths", [(3, 3, 3), (2, 4, 4, 2), (1, 2, 3, 3), (3, 2, 1), (2, 3, 2, 2)])
def test_vertical_part_of_the_training_velocity_is_lam_times_the_l2_field(widths):
    rng = np.random.default_rng(sum(widths))
    W = tuple(rng.standard_normal((widths[i], widths[i - 1])) for i in range(1, len(widths)))
    for kind in LOSS_KINDS:
        loss = random_loss((widths[-1], widths[0]), kind, rng)
        lam = 0.7
        parts = split_training_velocity(W, loss, lam)
        expected = -lam * (dense_projection_vertical(W) @ flatten(W))
        assert np.linalg.norm(flatten(parts.vertical) - expected) <= 1e-10 * tnorm(W)
        # lam = 0: the data gradient is horizontal
        zero = split_training_velocity(W, loss, 0.0)
        assert zero.vertical_speed <= 1e-10 * zero.horizontal_speed


def test_on_funnels_the_vertical_part_leaves_the_orbit():
    """(1, 2, 3, 3): Pi_V(W) differs from the orbit projection P_W(W) (docs/math section 3)."""
    rng = np.random.default_rng(5)
    W = tuple(rng.standard_normal(s) for s in [(2, 1), (3, 2), (3, 3)])
    vertical, _ = split(W, W)
    orbit = project_orbit(W, W)
    assert tnorm([a - b for a, b in zip(vertical, orbit, strict=True)]) > 1e-3 * tnorm(W)


def test_split_rejects_a_velocity_of_the_wrong_shape():
    W = (np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="V"):
        split(W, (np.eye(2), np.eye(3)))
    with pytest.raises(ValueError, match="lam"):
        loss_gradient(W, lambda X: (0.0, X), lam=-1.0)
