"""The Gram operator A_W^* A_W and its minimum-norm solver, against the dense A^H A.

The reference minimum-norm solution is the pseudo-inverse of the dense Gram matrix (eigenpairs
of ``A^H A`` above the dense numerical rank of A are kept), which is an independent algorithm
from the package's preconditioned CG with an exact factored kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import cases, dense_pinv, random_tuple
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense

#: Width patterns with a non-trivial stabiliser at generic W (singular Gram operator), and some
#: without, including funnels and bottlenecks.
SINGULAR = [(2, 4, 2), (2, 4, 4, 2), (1, 3, 1), (1, 2, 1), (2, 3, 3), (1, 4, 3, 1), (3, 4, 3, 3)]
REGULAR = [(3, 3, 3), (3, 2, 1), (1, 2, 3), (3, 1, 3), (1, 2, 2), (4, 3, 2, 3, 4), (2, 2, 2, 2, 2)]


def lie_shapes(d):
    return [(n, n) for n in d[1:-1]]


def materialize(op, is_complex):
    n = op.shape[0]
    return op @ np.eye(n, dtype=np.complex128 if is_complex else np.float64)


@settings(deadline=None)
@given(cases(min_depth=2))
def test_gram_operator_matches_dense(case):
    d, W, is_complex, rng = case
    G = dg.gram_operator(W)
    n = sum(k * k for k in d[1:-1])
    assert G.shape == (n, n)
    ref = dense.dense_gram(W)
    scale = np.linalg.norm(ref, 2)
    assert np.linalg.norm(materialize(G, is_complex) - ref) <= 1e-12 * n * scale
    xi = random_tuple(rng, lie_shapes(d), is_complex)
    got = dg.pack(G.apply(xi))
    assert np.linalg.norm(got - ref @ dense.flatten(xi)) <= 1e-12 * n * scale * dg.norm(xi)
    # the documented closed form, written out here block by block
    N = len(W)
    xs = (None, *xi, None)
    closed = []
    for i in range(1, N):
        Wi, Wn = W[i - 1], W[i]
        blk = xs[i] @ Wi @ Wi.conj().T + Wn.conj().T @ Wn @ xs[i]
        if xs[i - 1] is not None:
            blk = blk - Wi @ xs[i - 1] @ Wi.conj().T
        if xs[i + 1] is not None:
            blk = blk - Wn.conj().T @ xs[i + 1] @ Wn
        closed.append(blk)
    assert np.linalg.norm(got - dense.flatten(closed)) <= 1e-12 * n * scale * dg.norm(xi)


@settings(deadline=None)
@given(cases(min_depth=2))
def test_gram_operator_self_adjoint_psd(case):
    d, W, is_complex, rng = case
    G = dg.gram_operator(W)
    u, v = (random_tuple(rng, lie_shapes(d), is_complex) for _ in range(2))
    scale = np.linalg.norm(dense.dense_gram(W), 2)
    size = scale * dg.norm(u) * dg.norm(v)
    assert abs(dg.inner(G.apply(u), v) - dg.inner(u, G.apply(v))) <= 1e-12 * size
    # <u, G u> = ||A_W(u)||^2 >= 0, the second computed through the infinitesimal action
    q = dg.inner(u, G.apply(u))
    assert abs(q - dg.norm(dg.infinitesimal_action(W, u)) ** 2) <= 1e-12 * scale * dg.norm(u) ** 2
    M = materialize(G, is_complex)
    n = M.shape[0]
    assert np.linalg.norm(M - M.conj().T) <= 1e-12 * n * scale
    assert np.linalg.eigvalsh(0.5 * (M + M.conj().T)).min() >= -1e-12 * n * scale
    # the LinearOperator adjoint is the operator itself
    x = dg.pack(u)
    assert np.linalg.norm(G.H @ x - G @ x) <= 1e-14 * scale * np.linalg.norm(x)


def _check_min_norm_solution(W, rhs, is_complex, expect_consistent: bool):
    _, pinv, cond, kernel = dense_pinv(W)
    sol = dg.solve_gram(W, rhs)
    assert sol.converged
    ref = pinv @ dense.flatten(rhs)
    got = dg.pack(sol.xi)
    assert [x.shape for x in sol.xi] == [r.shape for r in rhs]
    err = np.linalg.norm(got - ref)
    assert err <= 1e-8 * cond * max(np.linalg.norm(ref), 1e-300), (err, cond)
    # singular / kernel_dim agree with the dense stabiliser dimension
    kdim = dense.dense_stabiliser_dimension(W)
    assert sol.kernel_dim == kdim
    assert sol.singular == (kdim > 0)
    assert sol.min_norm
    # the solution is orthogonal to the (dense) kernel
    assert np.linalg.norm(kernel.conj().T @ got) <= 1e-8 * cond * max(np.linalg.norm(ref), 1e-300)
    rnorm = np.linalg.norm(dense.flatten(rhs))
    outside = np.linalg.norm(kernel.conj().T @ dense.flatten(rhs)) / rnorm if rnorm else 0.0
    assert abs(sol.rhs_outside_range - outside) <= 1e-8
    if expect_consistent:
        assert sol.rhs_outside_range <= 1e-10
    return sol


@settings(deadline=None)
@given(cases(min_depth=2))
def test_solve_gram_mu_is_min_norm(case):
    _d, W, is_complex, _ = case
    _check_min_norm_solution(W, dg.moment_map(W), is_complex, expect_consistent=True)


@settings(deadline=None)
@given(cases(min_depth=2))
def test_solve_gram_random_rhs_least_squares(case):
    """An arbitrary rhs (outside the range when singular) gives (A^*A)^+ rhs."""
    d, W, is_complex, rng = case
    rhs = random_tuple(rng, lie_shapes(d), is_complex)
    _check_min_norm_solution(W, rhs, is_complex, expect_consistent=False)


@pytest.mark.parametrize("widths", SINGULAR + REGULAR, ids=str)
@settings(deadline=None)
@given(data=st.data())
def test_solve_gram_named_patterns(widths, data):
    _d, W, is_complex, _rng = data.draw(cases(widths=widths))
    sol = _check_min_norm_solution(W, dg.moment_map(W), is_complex, expect_consistent=True)
    assert sol.singular == bool(dg.stabiliser_layers(widths))
    if len(widths) == 3:  # N = 2: (d_1 - d_0)_+ (d_1 - d_2)_+
        d0, d1, d2 = widths
        assert sol.kernel_dim == max(d1 - d0, 0) * max(d1 - d2, 0)
    # A_W(xi) is the orbit projection of W (dense projector)
    P = dense.dense_projection_orbit(W)
    assert np.linalg.norm(dg.pack(dg.infinitesimal_action(W, sol.xi)) - P @ dense.flatten(W)) <= (
        1e-8 * dg.norm(W)
    )


@pytest.mark.parametrize("widths", SINGULAR, ids=str)
def test_solve_gram_on_balanced_points_and_mostly_kernel_rhs(widths):
    """At a balanced point mu = 0 the minimum-norm solution is exactly 0 although the operator
    is singular; a rhs mostly inside the kernel is solved in the least-squares sense."""
    rng = np.random.default_rng(0)
    for is_complex in (False, True):
        X = rng.standard_normal((widths[-1], widths[0]))
        if is_complex:
            X = X + 1j * rng.standard_normal(X.shape)
        W = dg.balanced_from_end_to_end(X, widths, rng)
        assert dg.norm(dg.moment_map(W)) <= 1e-12 * dg.norm(W) ** 2
        sol = dg.solve_gram(W, dg.moment_map(W))
        assert dg.norm(sol.xi) <= 1e-12
        _, pinv, _, kernel = dense_pinv(W)
        assert kernel.shape[1] == dense.dense_stabiliser_dimension(W) > 0
        in_range = random_tuple(rng, lie_shapes(widths), is_complex)
        v = kernel[:, 0] + 1e-3 * dense.flatten(in_range)
        sol = dg.solve_gram(W, dense.unflatten(v, lie_shapes(widths)))
        ref = pinv @ v
        assert np.linalg.norm(dg.pack(sol.xi) - ref) <= 1e-8 * np.linalg.norm(ref)
        outside = np.linalg.norm(kernel.conj().T @ v) / np.linalg.norm(v)
        assert sol.rhs_outside_range == pytest.approx(outside, abs=1e-10)


def test_solve_gram_rhs_almost_in_kernel_converges():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 2))
    W = dg.balanced_from_end_to_end(X, (2, 4, 2), rng)
    A = dense.dense_infinitesimal_action(W)
    _, U = np.linalg.eigh(A.T @ A)
    k = U[:, 0]  # a unit vector of ker A (A k ~ 3e-16)
    other = dg.moment_map(dg.random_weights((2, 4, 2), 1))[0]
    rhs = (k.reshape(4, 4) + 1e-14 * other,)
    sol = dg.solve_gram(W, rhs)
    # the true relative residual ||A^*A xi - P_range rhs|| / ||rhs|| is at rounding level
    _, pinv, _, _ = dense_pinv(W)
    assert np.linalg.norm(dg.pack(sol.xi) - pinv @ dense.flatten(rhs)) <= 1e-12
    assert sol.converged


@pytest.mark.parametrize("widths", [(3, 3, 3, 3), (2, 4, 4, 2), (2, 5, 5, 2, 6), (3, 2, 1, 2, 3)])
@pytest.mark.parametrize("is_complex", [False, True])
def test_preconditioners_are_symmetric_psd_and_agree(widths, is_complex):
    """All preconditioners are Hermitian PSD matrices (dense check) and give the same min-norm xi."""
    W = dg.random_weights(widths, 11, complex=is_complex)
    op = dg.gram_operator(W)
    n = op.shape[0]
    for kind in ("jacobi", "block_lu", "balanced"):
        M = op.preconditioner(kind)
        cols = [dg.pack(M(dg.unpack(e.astype(W[0].dtype), op.shapes))) for e in np.eye(n)]
        Mm = np.column_stack(cols)
        assert np.abs(Mm - Mm.conj().T).max() <= 1e-10 * np.abs(Mm).max()
        assert np.linalg.eigvalsh(0.5 * (Mm + Mm.conj().T)).min() >= -1e-10 * np.abs(Mm).max()
    mu = dg.moment_map(W)
    a = dg.solve_gram(W, mu, rtol=1e-12, preconditioner="jacobi")
    b = dg.solve_gram(W, mu, rtol=1e-12, preconditioner="block_lu")
    c = dg.solve_gram(W, mu, rtol=1e-12, preconditioner="balanced")
    ref = np.linalg.pinv(dense.dense_gram(W), rcond=1e-10) @ dg.pack(mu)
    for sol in (a, b, c):
        assert np.linalg.norm(dg.pack(sol.xi) - ref) <= 1e-8 * np.linalg.norm(ref)


def test_unknown_preconditioner_rejected():
    W = dg.random_weights((2, 3, 2), 0)
    with pytest.raises(ValueError, match="preconditioner kind"):
        dg.solve_gram(W, dg.moment_map(W), preconditioner="ilu")
