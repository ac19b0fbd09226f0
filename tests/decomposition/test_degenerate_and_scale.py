"""Degenerate weights, scale, unbalanced gauges, real/complex mixtures and copies (issue 12).

References are independent: the explicit products ``B_j^* G F_{j-1}^*`` of ``decomp_helpers``, the
dense projector ``I - J^+ J`` (at the exactly rescaled weights where the raw ones under- or
overflow), homogeneity (``Pi_V`` at ``cW`` is ``Pi_V`` at W) and the defining properties of the
split (``dphi(Pi_V V) = 0`` up to the rounding of the products that form it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from decomp_helpers import grad_data, partial_products, product, tnorm
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from dln_git.core.errors import ConvergenceWarning
from dln_git.decomposition import (
    CallableLoss,
    SquaredDistance,
    fast_slow,
    learning_flow,
    loss_value_and_gradient,
    regularized_moment_map,
    split,
    train,
)
from dln_git.decomposition.guards import NonFiniteError
from dln_git.testing import strategies as dst
from dln_git.testing.dense import dense_projection_vertical, flatten
from dln_git.testing.losses import LOSS_KINDS, random_loss

SMALL = dst.widths(max_depth=4, max_width=3)


def _linear_loss(G0):
    """``E(X) = Re <G0, X>``: ``grad E = G0`` everywhere, so the gradient in W is homogeneous."""
    return CallableLoss(lambda X: (float(np.vdot(G0, X).real), G0), G0.shape)


def _unit(W):
    """W scaled by a power of two to largest entry ~1 (exact; the fiber tangent space is unchanged)."""
    k = np.frexp(max(np.abs(w).max() for w in W))[1]
    return tuple(np.ldexp(w.real, -k) + (1j * np.ldexp(w.imag, -k) if np.iscomplexobj(w) else 0) for w in W)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_gradient_at_degenerate_weights_is_the_product_formula_or_a_clear_error(data):
    cx = data.draw(st.booleans())
    W = data.draw(dst.degenerate_weights(SMALL, complex=cx))
    loss = random_loss((W[-1].shape[0], W[0].shape[1]), data.draw(st.sampled_from(LOSS_KINDS)),
                       data.draw(st.integers(0, 2**31)), complex=cx)
    lam = data.draw(st.sampled_from([0.0, 0.7]))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        X = product(W)
        expected = [g + lam * w for g, w in zip(grad_data(W, loss(X)[1]) if np.isfinite(X).all() else W, W,
                                                strict=True)]
    if not (np.isfinite(X).all() and all(np.isfinite(e).all() for e in expected)):
        with pytest.raises(NonFiniteError, match="not finite in float64"):
            loss_value_and_gradient(W, loss, lam)
        return
    g = loss_value_and_gradient(W, loss, lam)
    assert tnorm([a - b for a, b in zip(g.grad, expected, strict=True)]) <= 1e-12 * tnorm(expected) + 1e-300


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_split_at_degenerate_weights_matches_the_dense_projector(data):
    cx = data.draw(st.booleans())
    W = data.draw(dst.degenerate_weights(SMALL, complex=cx))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    V = tuple(rng.standard_normal(w.shape) + (1j * rng.standard_normal(w.shape) if cx else 0) for w in W)
    vertical, horizontal = split(W, V)
    expected = dense_projection_vertical(_unit(W)) @ flatten(V)
    assert np.linalg.norm(flatten(vertical) - expected) <= 1e-9 * tnorm(V)
    assert np.allclose(flatten(vertical) + flatten(horizontal), flatten(V), rtol=0, atol=1e-14 * tnorm(V))


@settings(max_examples=25, deadline=None)
@given(pair=dst.rescaled_weights(SMALL), seed=st.integers(0, 2**31))
def test_split_is_homogeneous_at_every_scale(pair, seed):
    cW, c = pair
    W = tuple(w / c for w in cW)
    rng = np.random.default_rng(seed)
    V = tuple(rng.standard_normal(w.shape) for w in W)
    at_unit = flatten(split(W, V).vertical)
    np.testing.assert_allclose(flatten(split(cW, V).vertical), at_unit, atol=1e-9 * tnorm(V))
    scaled = split(cW, tuple(c * v for v in V))  # linear in V: c times the split of V
    np.testing.assert_allclose(flatten(scaled.vertical) / c, at_unit, atol=1e-9 * tnorm(V))


@settings(max_examples=25, deadline=None)
@given(pair=dst.rescaled_weights(SMALL), seed=st.integers(0, 2**31))
def test_loss_gradient_is_homogeneous_or_a_clear_error(pair, seed):
    cW, c = pair
    W = tuple(w / c for w in cW)
    N = len(W)
    G0 = np.random.default_rng(seed).standard_normal((W[-1].shape[0], W[0].shape[1]))
    at_unit = loss_value_and_gradient(W, _linear_loss(G0)).grad
    # the true X, E and gradient at cW, in log10, to decide what float64 can represent
    log_c = np.log10(c)
    largest = max(N * log_c + np.log10(np.abs(product(W)).max() + 1e-300) + np.log10(np.abs(G0).sum()),
                  (N - 1) * log_c + np.log10(max(np.abs(g).max() for g in at_unit) + 1e-300))
    if largest > 307:
        with pytest.raises(NonFiniteError):
            loss_value_and_gradient(cW, _linear_loss(G0))
        return
    with np.errstate(under="ignore"):
        expected = [c ** (N - 1) * g for g in at_unit]
    got = loss_value_and_gradient(cW, _linear_loss(G0)).grad
    largest_entry = max(np.abs(e).max() for e in expected)  # max norms: squares of 1e300 would overflow
    assert max(np.abs(a - b).max() for a, b in zip(got, expected, strict=True)) <= 1e-12 * largest_entry + 1e-290


_GAUGED = tuple(f * w for f, w in zip((1e8, 1.0, 1e-8), np.random.default_rng(0).standard_normal((3, 3, 3)),
                                      strict=True))


def _dphi_scale(W, V):
    """``||dphi(V)||`` and the size ``sum_j ||B_j|| ||V_j|| ||F_{j-1}||`` of its terms (its rounding scale)."""
    terms = [B @ v @ F for (B, F), v in zip(partial_products(W), V, strict=True)]
    sizes = [np.linalg.norm(B, 2) * np.linalg.norm(v) * np.linalg.norm(F, 2)
             for (B, F), v in zip(partial_products(W), V, strict=True)]
    return np.linalg.norm(sum(terms)), sum(sizes)


#: A draw where the metric's condition number is about 1e19 and 1e-9 is out of float64's reach
#: (Krylov stagnated at 2e-7; the split kept that result, 50 times worse than a dense solve).
_UNREACHABLE = (
    np.array([
        [-113214375.23626092, 19752156.357174072, 17310630.048758633],
        [229070918.81854543, 72227973.89570229, -35416503.787670955],
        [-91931002.43974791, -12622411.24674394, -29944298.45910578],
    ]),
    np.array([
        [1.4007680825555957, -0.7058812586611952, 1.1003316999072288],
        [-1.1132684919227682, -0.10471833520571237, 1.9393854462542697],
    ]),
    np.array([
        [2.1723062827208583e-09, 9.535250113466756e-09],
        [-1.4638329804938964e-08, 2.8909041759833222e-09],
    ]),
)


def _dense_reference_moved(W, V):
    """``||dphi(V - dphi^* Z)||`` with Z the dense least-squares solution of ``sum_j L_j Z R_j = dphi(V)``
    (``L_j = B_j B_j^*``, ``R_j = F_{j-1}^* F_{j-1}``, the row-major Kronecker matrix)."""
    pp = partial_products(W)
    M = sum(np.kron(B @ B.conj().T, (F.conj().T @ F).T) for B, F in pp)
    rhs = sum(B @ v @ F for (B, F), v in zip(pp, V, strict=True))
    Z = np.linalg.lstsq(M, rhs.ravel(), rcond=None)[0].reshape(rhs.shape)
    H = [B.conj().T @ Z @ F.conj().T for B, F in pp]
    return _dphi_scale(W, [v - h for v, h in zip(V, H, strict=True)])[0]


@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(W=dst.unbalanced_weights(dst.widths(min_depth=2, max_depth=4, max_width=3)), seed=st.integers(0, 2**31))
@example(W=_UNREACHABLE, seed=187)
@example(W=_GAUGED, seed=0)  # the reproducer of the issue: layers scaled 1e8 / 1 / 1e-8
def test_split_at_unbalanced_gauges_removes_everything_that_moves_x(W, seed):
    rng = np.random.default_rng(seed)
    for V in (W, tuple(rng.standard_normal(w.shape) for w in W)):  # V = W: the training speeds' split
        # At some draws the metric's condition number exceeds 1/eps and the requested 1e-12 is out of
        # reach: the ConvergenceWarning that says so is honest; the accuracy asserted below is not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            vertical, _ = split(W, V)
        moved, _ = _dphi_scale(W, vertical)
        _, size = _dphi_scale(W, V)
        # 1e-9 of the layer-wise size, unless float64 cannot reach it: at some draws (cond of the
        # metric ~1e19) a dense least-squares solve of the Kronecker system, an independent
        # algorithm, leaves more; then the split must do as well as it, to a factor 10
        assert moved <= max(1e-9 * size, 10 * _dense_reference_moved(W, V))


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_training_from_degenerate_weights_is_finite_and_takes_the_exact_first_step(data):
    widths = data.draw(SMALL)
    W = data.draw(dst.degenerate_weights(widths, kinds=("zero_layer", "zero_product", "rank_one", "tiny")))
    loss = random_loss((widths[-1], widths[0]), "regression", data.draw(st.integers(0, 2**31)))
    eta, lam = 0.05, 0.2
    r = train(W, loss, lam=lam, method="gd", eta=eta, steps=3, record_every=1, record_weights=True)
    assert r.converged and r.completed, r.message
    first = [(1 - eta * lam) * w - eta * g for w, g in zip(W, grad_data(W, loss(product(W))[1]), strict=True)]
    assert tnorm([a - b for a, b in zip(r.trajectory[1], first, strict=True)]) <= 1e-13 * (tnorm(first) + 1e-300)
    flow = train(W, loss, lam=lam, t_final=0.2, t_eval=[0.1, 0.2], rtol=1e-8)
    assert flow.converged, flow.message
    assert np.isfinite(flow.loss).all() and np.isfinite(flow.horizontal_speed).all()


def test_depth_one_flows_start_from_exact_zero():
    Y = np.array([[1.0, 2.0], [0.5, -1.0]])
    r = train((np.zeros((2, 2)),), SquaredDistance(Y), t_final=1.0, speeds=False)
    assert r.converged, r.message
    np.testing.assert_allclose(r.weights[0], (1 - np.exp(-1.0)) * Y, rtol=1e-9)  # dW/dt = Y - W
    lf = learning_flow(np.zeros((2, 2)), SquaredDistance(Y), 1, t_final=1.0)
    assert lf.converged
    np.testing.assert_allclose(lf.X, (1 - np.exp(-1.0)) * Y, rtol=1e-9)


def test_real_and_complex_mix_is_promoted():
    rng = np.random.default_rng(5)
    Wc = tuple(rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in [(3, 2), (2, 3)])
    V = tuple(rng.standard_normal(w.shape) for w in Wc)
    np.testing.assert_allclose(flatten(split(Wc, V).vertical), flatten(split(Wc, tuple(v + 0j for v in V)).vertical),
                               atol=1e-14)
    # a real loss at complex weights, a complex loss at real weights (whose gradient is the real part)
    Y = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    g = loss_value_and_gradient(Wc, SquaredDistance(Y.real)).grad
    assert tnorm([a - b for a, b in zip(g, grad_data(Wc, product(Wc) - Y.real), strict=True)]) < 1e-13
    Wr = tuple(w.real for w in Wc)
    g = loss_value_and_gradient(Wr, SquaredDistance(Y)).grad
    assert all(not np.iscomplexobj(x) for x in g)
    assert tnorm([a - b for a, b in zip(g, grad_data(Wr, product(Wr) - Y.real), strict=True)]) < 1e-13
    r = train(Wr, SquaredDistance(Y), t_final=0.5, speeds=True)
    assert r.converged and not np.iscomplexobj(r.weights[0])
    lf = learning_flow(product(Wr), SquaredDistance(Y), 2, t_final=0.5)
    assert lf.converged and not np.iscomplexobj(lf.X)


def test_results_never_share_memory_with_the_inputs():
    rng = np.random.default_rng(2)
    W1 = (rng.standard_normal((2, 2)),)
    G0 = rng.standard_normal((2, 2))
    inputs = [W1[0], G0]
    g = loss_value_and_gradient(W1, _linear_loss(G0))
    outputs = [g.X, *g.grad, *g.grad_data]
    s = split(W1, W1)
    outputs += [*s.vertical, *s.horizontal]
    zero = (np.zeros((2, 2)), np.zeros((2, 2)))
    s0 = split(zero, zero)
    outputs += [*s0.vertical, *s0.horizontal]
    inputs += list(zero)
    outputs += list(train(W1, SquaredDistance(G0), method="gd", eta=0.1, steps=1).weights)
    outputs += list(train(zero, SquaredDistance(G0), t_final=0.1).weights)
    outputs += list(fast_slow(zero, SquaredDistance(G0), 0.1, t_final=0.1).weights)
    lf = learning_flow(W1[0], SquaredDistance(G0), 2, t_final=0.1)
    outputs += [lf.X, lf.trajectory]
    mu0 = (np.eye(2),)
    inputs += list(mu0)
    outputs += list(regularized_moment_map(mu0, 0.0, 0.0))
    for out in outputs:
        for x in inputs:
            assert not np.shares_memory(out, x)
