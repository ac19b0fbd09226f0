"""Tests of ``dln_git.flows.newton_system``: the kernel certificate and the stacked Newton solve.

docs/math sections 1-3: ``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}``, the Newton system
``Herm(A_W^* A_W s) = mu`` over Hermitian s, and ``d/dt mu(exp(t s).W)|_0 = 2 Herm(A_W^* A_W s)``.
References: the dense matrix of ``A_W`` (Kronecker blocks, ``dln_git.testing.dense``) and its
numerical rank, central differences of the closed-form moment map along ``expm``, a dense
minimum-norm solve, and the core's general solve path (the implementation before the stacked one).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from flow_helpers import conditioned_instance, gauge_act, gaussian_weights, moment, regularizer, tnorm, x_drift
from hypothesis import given
from hypothesis import strategies as st

import dln_git.core.gram as core_gram
import dln_git.core.gram.operator as gram_operator_module
from dln_git.flows import newton_system
from dln_git.flows.newton import newton_balance
from dln_git.flows.newton_system import StackedGram, newton_direction, stabiliser_is_trivial
from dln_git.testing import dense


def _hermitian_tuple(widths, rng, cplx=False):
    out = []
    for d in widths[1:-1]:
        B = rng.standard_normal((d, d)) + (1j * rng.standard_normal((d, d)) if cplx else 0)
        out.append(0.5 * (B + B.conj().T))
    return out


def _low_rank(m, n, r, rng):
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n)) if r else np.zeros((m, n))


# ---------------------------------------------------------------------------------------------
# The certificate of ker A_W = 0
# ---------------------------------------------------------------------------------------------


@given(
    widths=st.lists(st.integers(1, 4), min_size=3, max_size=6),
    drops=st.lists(st.integers(0, 2), min_size=5, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_certificate_implies_a_trivial_dense_kernel(widths, drops, seed):
    """Whenever the layers certify ker A_W = 0, the dense A_W has full column rank; layers of
    reduced rank (including zero layers), excess and funnel widths are drawn constructively."""
    rng = np.random.default_rng(seed)
    W = []
    for i in range(1, len(widths)):
        m, n = widths[i], widths[i - 1]
        W.append(_low_rank(m, n, max(min(m, n) - drops[i - 1], 0), rng))
    certified = stabiliser_is_trivial(W)
    kernel = dense.dense_stabiliser_dimension(W)
    if certified:
        assert kernel == 0
    if all(w.shape[0] == w.shape[1] for w in W) and sum(not np.linalg.cond(w) <= 1e4 for w in W) <= 1:
        assert certified  # square layers, all but at most one well conditioned


@pytest.mark.parametrize(("widths", "expected"), [
    ((3, 3, 3, 3), True), ((2, 4, 2), False), ((3, 1, 3), True), ((2, 4, 4, 2), False), ((1, 2, 2), True),
    ((3, 2, 1), True), ((1, 2, 3), True), ((4, 3, 2, 3, 4), True), ((2, 3, 4, 3), False),
])
def test_certificate_on_the_width_regimes(widths, expected):
    """Generic layers: certified exactly when the dense kernel is trivial on these patterns
    (stabiliser layers have a kernel; funnels, equal widths, (1, 2, 2) and (3, 1, 3) do not)."""
    W = gaussian_weights(widths, np.random.default_rng(5))
    assert stabiliser_is_trivial(W) == expected
    assert (dense.dense_stabiliser_dimension(W) == 0) == expected


def test_certificate_rejects_nearly_singular_layers():
    """Layers with condition number above the threshold are left to the dense computation."""
    rng = np.random.default_rng(3)
    W = gaussian_weights((4, 4, 4, 4), rng)
    U, _, Vh = np.linalg.svd(W[1])
    bad = (U * np.array([1.0, 1.0, 1e-7, 1e-7])) @ Vh
    assert stabiliser_is_trivial((W[0], bad, W[2]))  # one bad layer: the other side certifies
    assert not stabiliser_is_trivial((bad, bad, W[2]))


# ---------------------------------------------------------------------------------------------
# The stacked operator and solve
# ---------------------------------------------------------------------------------------------

# equal hidden widths, certified trivial kernels (narrowing first layer, widening last one)
STACK_WIDTHS = [(5, 4, 4, 4, 3), (4, 4, 3), (5, 3, 3, 3, 3, 3, 6)]


@pytest.mark.parametrize("widths", STACK_WIDTHS)
@pytest.mark.parametrize("cplx", [False, True])
def test_stacked_gram_is_the_newton_hessian(widths, cplx):
    """``Herm(A^*A s)`` on stacks equals half the derivative of mu along exp(t s).W (central
    differences, h = 1e-5: truncation ~ h^2) and the Hermitian part of the dense Gram matrix."""
    rng = np.random.default_rng(7)
    W = gaussian_weights(widths, rng, cplx=cplx)
    s = _hermitian_tuple(widths, rng, cplx)
    got = StackedGram(W)(np.stack(s))
    h = 1e-5
    plus = moment(gauge_act(W, [scipy.linalg.expm(h * x) for x in s]))
    minus = moment(gauge_act(W, [scipy.linalg.expm(-h * x) for x in s]))
    fd = [(a - b) / (4 * h) for a, b in zip(plus, minus, strict=True)]
    assert tnorm([a - b for a, b in zip(got, fd, strict=True)]) <= 1e-7 * tnorm(fd)
    G = dense.unflatten(dense.dense_gram(W) @ dense.flatten(s), dense.lie_shapes(widths))
    ref = [0.5 * (g + g.conj().T) for g in G]
    assert tnorm([a - b for a, b in zip(got, ref, strict=True)]) <= 1e-13 * tnorm(ref)
    assert np.array_equal(got, np.swapaxes(got, 1, 2).conj())  # exactly Hermitian


def _dense_min_norm_direction(W, rhs):
    """Minimum-norm symmetric s with ``Herm(A^*A s) = rhs`` (real W), by a dense pseudo-inverse
    of ``P G P`` (G the dense Gram matrix, P the projector onto symmetric tuples)."""
    widths = [W[0].shape[1]] + [w.shape[0] for w in W]
    shapes = dense.lie_shapes(widths)
    n = sum(a * b for a, b in shapes)
    P = np.column_stack([dense.flatten([0.5 * (m + m.T) for m in dense.unflatten(e, shapes)]) for e in np.eye(n)])
    H = P @ dense.dense_gram(W) @ P
    return dense.unflatten(np.linalg.pinv(H, rcond=1e-12, hermitian=True) @ dense.flatten(rhs), shapes)


@pytest.mark.parametrize("widths", STACK_WIDTHS)
def test_stacked_direction_is_the_dense_min_norm_solution(widths, monkeypatch):
    """The stacked PCG (the core's general path forbidden) solves the Newton system to its
    tolerance: the same s as a dense minimum-norm solve."""
    W = gaussian_weights(widths, np.random.default_rng(2))
    assert stabiliser_is_trivial(W)

    def forbidden(*args, **kwargs):
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(newton_system, "GramOperator", forbidden)
    mu = moment(W)
    sol = newton_direction(W, mu, 1e-14, trivial_kernel=True)
    ref = _dense_min_norm_direction(W, mu)
    assert sol.converged and sol.trivial_kernel
    assert tnorm([a - b for a, b in zip(sol.s, ref, strict=True)]) <= 1e-9 * tnorm(ref)


@pytest.mark.parametrize("cplx", [False, True])
def test_stacked_direction_matches_the_general_path(cplx):
    """Same frames, model and PCG: the stacked and the core's solve agree to their tolerance,
    also for complex weights."""
    W, _, _ = conditioned_instance((4, 4, 4, 4, 4, 4), 1e3, seed=9, gauge_cond=10.0, cplx=cplx)
    mu = moment(W)
    fast = newton_direction(W, mu, 1e-13, trivial_kernel=True)
    slow = core_gram.GramOperator(W, frame_kind="qr").solve_hermitian(mu, rtol=1e-13)
    assert tnorm([a - b for a, b in zip(fast.s, slow.xi, strict=True)]) <= 1e-10 * tnorm(slow.xi)
    assert all(np.allclose(x, x.conj().T, rtol=0, atol=1e-14 * tnorm(fast.s)) for x in fast.s)


# ---------------------------------------------------------------------------------------------
# The Newton iteration: the same iterates as before, no dense kernel on deep networks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("widths", "seed", "cplx"), [((6,) * 5, 8, False), ((5,) * 4, 1, False), ((4,) * 9, 2, False),
                                                     ((4,) * 6, 3, True)])
def test_newton_iterates_are_those_of_the_general_path(widths, seed, cplx, monkeypatch):
    """With the stacked solve and the certificate switched off (the implementation before them),
    newton_balance takes the same steps: same iteration counts and result to rounding (from the
    sweeps' start, so that there are Newton steps to compare)."""
    W, _, _ = conditioned_instance(widths, 1e3, seed=seed, gauge_cond=10.0, cplx=cplx)
    fast = newton_balance(W, tol=1e-12, merged=False)
    monkeypatch.setattr(newton_system, "STACKED", False)
    monkeypatch.setattr("dln_git.flows.newton.stabiliser_is_trivial", lambda W: False)
    slow = newton_balance(W, tol=1e-12, merged=False)
    assert fast.converged and slow.converged
    assert fast.iterations == slow.iterations and fast.step_lengths[-1] == slow.step_lengths[-1] == 1.0
    assert tnorm([a - b for a, b in zip(fast.weights, slow.weights, strict=True)]) <= 1e-12 * tnorm(slow.weights)


def test_deep_newton_needs_no_dense_kernel(monkeypatch):
    """N = 12, where the frames' certificate (a product of layer condition numbers) fails:
    converged to the minimum (N/2) sum s^{2/N} of R on the fiber with X kept, without the
    dense kernel computation (stabiliser_subspace)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("stabiliser_subspace was called")

    monkeypatch.setattr(gram_operator_module, "stabiliser_subspace", forbidden)
    N = 12
    W, X, s = conditioned_instance((4,) * (N + 1), 1e3, seed=4, gauge_cond=10.0)
    for merged in (False, True):  # Newton steps from the sweeps' start; the merged start
        run = newton_balance(W, tol=1e-12, merged=merged)
        assert run.converged and (merged or run.step_lengths[-1] == 1.0)
        assert tnorm(moment(run.weights)) <= 1e-12 * regularizer(run.weights)
        assert regularizer(run.weights) == pytest.approx(0.5 * N * np.sum(s ** (2.0 / N)), rel=1e-12)
        assert x_drift(run.weights, X) <= 1e-13
