"""The ``"segments"`` preconditioner of the Gram operator, against dense matrices.

Independent references: the dense infinitesimal action and Gram matrix of
:mod:`dln_git.testing.dense`, the transport space built column by column from its definition
``xi_i = T_i X S_i``, and the dense pseudo-inverse for the solves.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import dense_pinv
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.core.gram.segments import SegmentPreconditioner, _segment, default_segments
from dln_git.testing import dense
from dln_git.testing import strategies as dst

WIDTHS = [(3, 3, 3, 3, 3), (2, 4, 4, 2), (2, 5, 5, 2, 6), (3, 2, 1, 2, 3), (4, 3, 2, 3, 4, 2)]


def _transport_basis(W, j, k):
    """Columns ``pack(xi)`` for ``xi_i = T_i X S_i`` (i = j..k), X running over matrix units."""
    shapes = [(w.shape[0], w.shape[0]) for w in W[:-1]]
    dj, dk = W[j].shape[0], W[k].shape[0]
    cols = []
    for a in range(dj):
        for b in range(dk):
            X = np.zeros((dj, dk), dtype=W[0].dtype)
            X[a, b] = 1
            xi = [np.zeros(s, dtype=W[0].dtype) for s in shapes]
            for i in range(j, k + 1):
                T = np.eye(W[j].shape[0], dtype=W[0].dtype)
                for m in range(j + 1, i + 1):
                    T = W[m] @ T
                S = np.eye(W[k].shape[0], dtype=W[0].dtype)
                for m in range(k, i, -1):
                    S = S @ W[m]
                xi[i] = T @ X @ S
            cols.append(dg.pack(xi))
    return np.column_stack(cols)


def _dense_map(f, shapes, dtype):
    n = sum(a * b for a, b in shapes)
    return np.column_stack([dg.pack(f(dg.unpack(e.astype(dtype), shapes))) for e in np.eye(n)])


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("is_complex", [False, True])
def test_transport_space_meets_only_the_boundary_layers(widths, is_complex):
    """``A_W (Z_jk X)`` is zero on the layers strictly inside the segment (dense action)."""
    W = dg.random_weights(widths, 3, complex=is_complex)
    A = dense.dense_infinitesimal_action(W)
    sizes = [w.size for w in W]
    offsets = np.cumsum([0, *sizes])
    for j, k in default_segments(len(W) - 1):
        AZ = A @ _transport_basis(W, j, k)
        for layer in range(j + 1, k + 1):
            block = AZ[offsets[layer]:offsets[layer + 1]]
            assert np.abs(block).max() <= 1e-12 * max(1.0, np.abs(AZ).max())


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("is_complex", [False, True])
def test_segment_solve_is_the_restricted_pseudo_inverse(widths, is_complex):
    """``Z (Z^* C Z)^+ Z^* r`` from the Sylvester formula equals the dense restricted solve."""
    W = dg.random_weights(widths, 5, complex=is_complex)
    C = dense.dense_gram(W)
    op = dg.gram_operator(W)
    pre = SegmentPreconditioner(W, op.preconditioner("jacobi"), segments=[])
    rng = np.random.default_rng(0)
    for j, k in default_segments(len(W) - 1):
        Z = _transport_basis(W, j, k)
        s = _segment(W, j, k, max(float(np.linalg.norm(w)) ** 2 for w in W))
        r = rng.standard_normal(C.shape[0]) + (1j * rng.standard_normal(C.shape[0]) if is_complex else 0)
        V = pre._coefficients(s, dg.unpack(r, op.shapes))
        got = dg.pack(pre._lift(s, V, [np.zeros(sh, dtype=W[0].dtype) for sh in op.shapes], 1.0))
        ref = Z @ (np.linalg.pinv(Z.conj().T @ C @ Z, rcond=1e-12, hermitian=True) @ (Z.conj().T @ r))
        assert np.linalg.norm(got - ref) <= 1e-9 * np.linalg.norm(ref)
        # the local formulas for C Z V and Z^* C x
        def zero():
            return [np.zeros(sh, dtype=W[0].dtype) for sh in op.shapes]

        assert np.allclose(dg.pack(pre._gram_of_lift(s, V, zero(), 1.0)), C @ got, atol=1e-10 * np.linalg.norm(C @ got))
        x = rng.standard_normal(C.shape[0]) + (1j * rng.standard_normal(C.shape[0]) if is_complex else 0)
        V2 = pre._coefficients_of_gram(s, dg.unpack(x, op.shapes))
        lifted = dg.pack(pre._lift(s, V2, zero(), 1.0))
        ref2 = Z @ (np.linalg.pinv(Z.conj().T @ C @ Z, rcond=1e-12, hermitian=True) @ (Z.conj().T @ (C @ x)))
        assert np.linalg.norm(lifted - ref2) <= 1e-9 * max(np.linalg.norm(ref2), 1e-300)


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("is_complex", [False, True])
def test_segments_preconditioner_is_hermitian_psd_and_exact_on_its_last_space(widths, is_complex):
    W = dg.random_weights(widths, 7, complex=is_complex)
    op = dg.gram_operator(W)
    M = _dense_map(op.preconditioner("segments"), op.shapes, W[0].dtype)
    scale = np.abs(M).max()
    assert np.abs(M - M.conj().T).max() <= 1e-10 * scale
    assert np.linalg.eigvalsh(0.5 * (M + M.conj().T)).min() >= -1e-10 * scale
    segs = default_segments(len(W) - 1)
    if segs:
        j, k = segs[-1]  # applied outermost: M C z = z on its space (modulo ker A)
        Z = _transport_basis(W, j, k)
        C = dense.dense_gram(W)
        z = Z @ np.random.default_rng(1).standard_normal(Z.shape[1])
        _, _, _, kernel = dense_pinv(W)
        z = z - kernel @ (kernel.conj().T @ z)
        got = M @ (C @ z)
        got = got - kernel @ (kernel.conj().T @ got)
        assert np.linalg.norm(got - z) <= 1e-8 * np.linalg.norm(z)


def _with_zero_layer(W):
    W = list(W)
    W[len(W) // 2] = np.zeros_like(W[len(W) // 2])
    return tuple(W)


@pytest.mark.parametrize("widths", [*WIDTHS, (2, 4, 2), (1, 3, 1)])
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("zero_layer", [False, True])
def test_segments_solve_gives_the_minimum_norm_solution(widths, is_complex, zero_layer):
    W = dg.random_weights(widths, 11, complex=is_complex)
    W = _with_zero_layer(W) if zero_layer else W
    mu = dg.moment_map(W)
    sol = dg.solve_gram(W, mu, rtol=1e-12, preconditioner="segments")
    _, pinv, _, _ = dense_pinv(W)
    ref = pinv @ dg.pack(mu)
    assert sol.converged
    assert np.linalg.norm(dg.pack(sol.xi) - ref) <= 1e-8 * max(np.linalg.norm(ref), 1e-300)


def test_segments_cut_the_iterations_on_deep_gaussian_weights():
    """N = 8, d = 24 Gaussian layers: the near-stabilisers cost block_lu hundreds of PCG iterations."""
    W = dg.random_weights((24,) * 9, 0)
    mu = dg.moment_map(W)
    blu = dg.solve_gram(W, mu, rtol=1e-10, preconditioner="block_lu")
    seg = dg.solve_gram(W, mu, rtol=1e-10, preconditioner="segments")
    assert seg.converged and blu.converged
    assert seg.iterations * 5 <= blu.iterations
    ref = dg.pack(blu.xi)
    assert np.linalg.norm(dg.pack(seg.xi) - ref) <= 1e-7 * np.linalg.norm(ref)


@pytest.mark.parametrize("widths", [(3, 4, 4, 4, 4, 2), (5, 5, 5, 5)])
@pytest.mark.parametrize("is_complex", [False, True])
def test_stacked_application_equals_the_layer_loop(widths, is_complex):
    """Equal hidden widths: the batched ``on_packed`` map is the tuple map."""
    W = dg.random_weights(widths, 4, complex=is_complex)
    op = dg.gram_operator(W)
    M = op.preconditioner("segments")
    assert hasattr(M, "on_packed")
    rng = np.random.default_rng(2)
    v = rng.standard_normal(op.shape[0]) + (1j * rng.standard_normal(op.shape[0]) if is_complex else 0)
    v0 = v.copy()
    got = M.on_packed(v)
    ref = dg.pack(M(dg.unpack(v, op.shapes)))
    assert np.array_equal(v, v0)
    assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)


def test_auto_kind_takes_segments_for_wide_chains_only():
    from dln_git.core.gram.preconditioners import SEGMENTS_MIN_HIDDEN, SEGMENTS_MIN_WIDTH, auto_kind

    w, h = SEGMENTS_MIN_WIDTH, SEGMENTS_MIN_HIDDEN
    assert auto_kind((w,) * (h + 2)) == "segments"
    assert auto_kind((w - 1,) * (h + 2)) == "block_lu"
    assert auto_kind((w,) * (h + 1)) == "block_lu"
    assert auto_kind((3, *(w,) * h, 2)) == "block_lu"  # generic stabiliser: a large kernel
    assert auto_kind((3, w, 2)) == "block_lu"  # one hidden layer: block-Jacobi is already exact
    W = dg.random_weights((2, 4, 4, 2), 0)
    op = dg.gram_operator(W)
    assert op.preconditioner("auto") is op.preconditioner("block_lu")
    with pytest.raises(ValueError, match="preconditioner kind"):
        op.preconditioner("ilu")


@pytest.mark.parametrize("method", ["solve", "solve_hermitian"])
def test_segments_fall_back_to_block_lu_when_the_kernel_is_not_computed(monkeypatch, method):
    """A singular operator whose kernel is too large to compute: the segments cannot project it
    out, so the solve (and the Hermitian Newton solve) runs with block_lu and says so."""
    from dln_git.core import subspaces

    monkeypatch.setattr(subspaces, "MAX_CONSTRAINT_ENTRIES", 1)
    W = dg.random_weights((2, 4, 4, 4, 2), 1)
    mu = dg.moment_map(W)
    op = dg.gram_operator(W)
    seg = getattr(op, method)(mu, rtol=1e-12, preconditioner="segments")
    assert op.kernel() is None
    assert "block_lu used instead of segments" in seg.message
    blu = getattr(dg.gram_operator(W), method)(mu, rtol=1e-12, preconditioner="block_lu")
    assert np.array_equal(dg.pack(seg.xi), dg.pack(blu.xi))


def test_segments_whose_products_overflow_are_skipped():
    """Layers of scales 1e115 and 1e-115: products of three overflow float64 (the Gram operator
    itself then spans 1e460 and no iteration can resolve it); those segments are dropped and the
    preconditioner stays finite instead of failing in an SVD of infinities."""
    W = list(dg.random_weights((3, 3, 3, 3, 3, 3), 6))
    W = [w * 1e115 if i in (1, 2, 3) else w * 1e-115 for i, w in enumerate(W)]
    op = dg.gram_operator(W)
    M = op.preconditioner("segments")
    assert len(M.segments) < len(default_segments(len(W) - 1))
    v = dg.unpack(np.random.default_rng(0).standard_normal(op.shape[0]) * 1e-200, op.shapes)
    assert all(np.isfinite(x).all() for x in M(v))


_WIDTHS = dst.widths(min_depth=2, max_depth=5, max_width=4)


@st.composite
def _hard_cases(draw):
    """Weights of drawn widths: plain, unbalanced by a scalar gauge (norms up to 1e6 apart), or
    degenerate (zero layer, X = 0, rank one); real or complex."""
    d = draw(_WIDTHS)
    is_complex = draw(st.booleans())
    kind = draw(st.sampled_from(["plain", "unbalanced", "degenerate"]))
    if kind == "plain":
        W = draw(dst.weights(d, complex=is_complex))
    elif kind == "unbalanced":
        W = draw(dst.unbalanced_weights(d, max_exponent=3, complex=is_complex))
    else:
        W = draw(dst.degenerate_weights(d, kinds=("zero_layer", "zero_product", "rank_one"), complex=is_complex))
    return W


@settings()
@given(_hard_cases())
def test_property_segments_solve_is_the_dense_minimum_norm_solution(W):
    """PCG with the segments preconditioner: the dense residual ``||C xi - mu||`` is at the
    requested level, and where the dense Gram matrix is well conditioned on its range
    (effective condition below 1e8) xi is its pseudo-inverse solution ``(A^*A)^+ mu``."""
    mu = dg.moment_map(W)
    b = dg.pack(mu)
    if np.linalg.norm(b) == 0:
        return
    A = dense.dense_infinitesimal_action(W)
    C = A.conj().T @ A
    sol = dg.solve_gram(W, mu, rtol=1e-12, preconditioner="segments")
    assert sol.converged
    x = dg.pack(sol.xi)
    assert np.linalg.norm(C @ x - b) <= 1e-9 * np.linalg.norm(b)
    r = dense.numerical_rank(A)
    _, sv, Vh = np.linalg.svd(A, full_matrices=False)
    cond = (sv[0] / sv[r - 1]) ** 2 if r else np.inf  # of C on its range: (A^*A)^+ = V S^-2 V^*
    # compare where both rank decisions agree (no singular value between the two thresholds);
    # perturbation bound: relative forward error <= cond * relative residual (1e-12), slack 10
    if cond < 1e8 and sol.kernel_dim == A.shape[1] - r:
        V = Vh[:r].conj().T
        ref = (V / sv[:r] ** 2) @ (V.conj().T @ b)
        assert np.linalg.norm(x - ref) <= max(1e-10, 10 * 1e-12 * cond) * np.linalg.norm(ref)
