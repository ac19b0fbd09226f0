"""Losses of X (``dln_git.decomposition.losses``): gradients against finite differences
(Taylor remainder O(h^2)), minibatches, validation."""

from __future__ import annotations

import numpy as np
import pytest
from decomp_helpers import random_matrix

from dln_git.decomposition import (
    CallableLoss,
    LinearRegression,
    MatrixCompletion,
    MatrixSensing,
    SquaredDistance,
    as_loss,
)
from dln_git.testing.losses import LOSS_KINDS, random_loss


def _value(loss, X) -> float:
    return loss(X)[0]


@pytest.mark.parametrize("kind", LOSS_KINDS)
@pytest.mark.parametrize("complex_", [False, True])
def test_gradient_passes_the_taylor_test(kind, complex_):
    rng = np.random.default_rng(2 * LOSS_KINDS.index(kind) + complex_)
    loss = random_loss((3, 4), kind, rng, complex=complex_)
    X = random_matrix(rng, (3, 4), complex_)
    D = random_matrix(rng, (3, 4), complex_)
    E, G = loss(X)
    slope = float(np.vdot(G, D).real)
    remainders = [abs(_value(loss, X + h * D) - E - h * slope) for h in (1e-2, 5e-3)]
    # the remainder is O(h^2): halving h divides it by 4 (all four losses are quadratic: exactly)
    assert remainders[0] > 0
    assert remainders[0] / remainders[1] == pytest.approx(4.0, rel=1e-3)


def test_closed_forms_of_the_values():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert SquaredDistance(Y)(X)[0] == pytest.approx(0.5 * np.sum((X - Y) ** 2))
    A, B = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    assert LinearRegression(A, B)(X)[0] == pytest.approx(np.sum((X @ A - B) ** 2) / 14)
    M, y = rng.standard_normal((5, 2, 3)), rng.standard_normal(5)
    r = np.array([np.sum(m * X) for m in M]) - y
    assert MatrixSensing(M, y)(X)[0] == pytest.approx(np.sum(r**2) / 10)
    mask = np.array([[True, False, True], [False, True, True]])
    assert MatrixCompletion(Y, mask)(X)[0] == pytest.approx(0.5 * np.sum(((X - Y) * mask) ** 2))


@pytest.mark.parametrize("kind", ["regression", "sensing", "completion"])
def test_minibatches_average_to_the_full_loss(kind):
    rng = np.random.default_rng(1)
    loss = random_loss((3, 3), kind, rng)
    X = rng.standard_normal((3, 3))
    n = loss.n_samples
    # every sample in exactly one batch of equal size: the mean of the batch losses is the loss
    size = next(b for b in range(2, n + 1) if n % b == 0)
    batches = rng.permutation(n).reshape(-1, size)
    values = [loss.batch(b)(X) for b in batches]
    assert np.mean([v[0] for v in values]) == pytest.approx(loss(X)[0], rel=1e-12)
    np.testing.assert_allclose(np.mean([v[1] for v in values], axis=0), loss(X)[1], rtol=1e-12, atol=1e-14)


def test_completion_ignores_unobserved_entries():
    Y = np.array([[1.0, np.nan], [np.inf, 2.0]])
    mask = np.array([[True, False], [False, True]])
    E, G = MatrixCompletion(Y, mask)(np.zeros((2, 2)))
    assert E == pytest.approx(2.5)
    np.testing.assert_array_equal(G, [[-1.0, 0.0], [0.0, -2.0]])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="shape"):
        SquaredDistance(np.eye(2))(np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        SquaredDistance(np.eye(2))(np.array([[np.nan, 0], [0, 1]]))
    with pytest.raises(ValueError, match="samples"):
        LinearRegression(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="one value per measurement"):
        MatrixSensing(np.ones((3, 2, 2)), np.ones(4))
    with pytest.raises(TypeError, match="boolean"):
        MatrixCompletion(np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="no entry"):
        MatrixCompletion(np.eye(2), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="batch indices"):
        random_loss((2, 2), "regression", 0).batch([99])
    with pytest.raises(ValueError, match="network's X has shape"):
        as_loss(SquaredDistance(np.eye(2)), (3, 3))
    with pytest.raises(TypeError, match="callable"):
        as_loss(3.0, (2, 2))


def test_user_callable_is_wrapped_and_checked():
    loss = as_loss(lambda X: (0.5 * np.sum(X**2), X), (2, 2))
    assert isinstance(loss, CallableLoss)
    assert loss(np.eye(2))[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="gradient has shape"):
        as_loss(lambda X: (0.0, np.zeros(3)[None]), (2, 2))(np.eye(2))
    with pytest.raises(TypeError, match=r"\(value, grad\)"):
        as_loss(lambda X: 0.0, (2, 2))(np.eye(2))
    with pytest.raises(ValueError, match="non-finite"):
        as_loss(lambda X: (np.inf, X), (2, 2))(np.eye(2))
