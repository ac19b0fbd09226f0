"""QR frames of the "balanced" preconditioner, its packed fast path, and PCG without the final
true-residual check (the cheap options the Newton balancing uses), against the default paths and
dense references."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import cases, random_tuple
from hypothesis import given, settings

import dln_git as dg
from dln_git.core.gram import GramOperator, _BalancedModel, _compute_frames, _qr_frame
from dln_git.core.krylov import pcg
from dln_git.core.linalg import pack, unpack


def _herm(M):
    return 0.5 * (M + M.conj().T)


@pytest.mark.parametrize("shape", [(5, 5), (6, 4), (4, 6), (0, 3), (3, 0)])
@pytest.mark.parametrize("cplx", [False, True])
def test_qr_frame_is_unitary_and_triangularises(shape, cplx):
    rng = np.random.default_rng(sum(shape) + 10 * cplx)
    (A,) = random_tuple(rng, [shape], cplx)
    E, T = _qr_frame(A)
    m, n = shape
    assert E.shape == (m, m) and T.shape == (m, n)
    assert np.abs(E.conj().T @ E - np.eye(m)).max(initial=0.0) <= 1e-13
    assert np.abs(E @ T - A).max(initial=0.0) <= 1e-13 * max(1.0, np.abs(A).max(initial=0.0))
    k = min(m, n)
    lead = T[:, :k] if m >= n else T[:, :m]
    assert np.abs(np.tril(lead, -1)).max(initial=0.0) <= 1e-13
    diag = np.diagonal(lead)
    assert np.all(diag.real >= 0) and np.abs(diag.imag).max(initial=0.0) <= 1e-13


def test_qr_frames_diagonalise_at_balanced_points():
    """As the polar frames: X = I (repeated singular values) and a generic balanced point."""
    rng = np.random.default_rng(5)
    for X in (np.eye(5), rng.standard_normal((5, 5))):
        W = dg.balanced_from_end_to_end(X, (5,) * 6, rng)
        F = _compute_frames(W, kind="qr")
        P = _compute_frames(W)
        for T, Tp in zip(F.Wt[1:-1], P.Wt[1:-1], strict=True):
            assert np.abs(T - np.diag(np.diag(T))).max() <= 1e-12
            np.testing.assert_allclose(np.diag(T), np.diag(Tp), atol=1e-12)
        assert F.cond == pytest.approx(P.cond, rel=1e-8)
    assert _compute_frames(W, certify=False, kind="qr").cond is None


@settings(deadline=None, max_examples=25)
@given(cases(min_depth=2))
def test_qr_frames_solve_the_same_hermitian_system(case):
    _, W, _, _ = case
    rhs = dg.moment_map(W)
    if dg.norm(rhs) == 0:
        return
    ref = GramOperator(W).solve_hermitian(rhs, rtol=1e-12)
    sol = GramOperator(W, frame_kind="qr").solve_hermitian(rhs, rtol=1e-12)
    assert sol.converged == ref.converged
    if ref.converged:
        scale = max(dg.norm(ref.xi), 1e-300)
        assert dg.norm([a - b for a, b in zip(sol.xi, ref.xi, strict=True)]) <= 1e-6 * scale


def test_frame_kind_is_validated():
    W = dg.random_weights((2, 3, 2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="frame_kind"):
        GramOperator(W, frame_kind="svd")


@pytest.mark.parametrize("cplx", [False, True])
def test_packed_model_matches_the_tuple_preconditioner(cplx):
    """Equal widths: the packed path is the tuple path, and Hermitian in, exactly Hermitian out."""
    rng = np.random.default_rng(3 + cplx)
    W = random_tuple(rng, [(4, 4)] * 4, cplx)
    inner = GramOperator(W).in_frames()
    shapes = inner.shapes
    for hermitian in (False, True):
        M = inner.preconditioner("balanced", hermitian=hermitian)
        assert M.on_packed is not None
        r = tuple(_herm(x) for x in random_tuple(rng, shapes, cplx))
        got = unpack(M.on_packed(pack(r)), shapes)
        for a, b in zip(got, M(r), strict=True):
            assert np.abs(a - b).max() <= 1e-14 * np.abs(b).max()
        if hermitian:  # exactly Hermitian (for real data without taking a Hermitian part)
            assert all(np.array_equal(a, a.conj().T) for a in got)


def test_packed_model_needs_equal_widths():
    rng = np.random.default_rng(1)
    W = random_tuple(rng, [(3, 2), (4, 3), (2, 4)], False)
    model = _BalancedModel(GramOperator(W).in_frames().weights, hermitian=True)
    assert not model.packable
    M = GramOperator(W).in_frames().preconditioner("balanced", hermitian=True)
    assert getattr(M, "on_packed", None) is None


def test_pcg_without_verification_skips_the_final_application():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((30, 30))
    A = B @ B.T + 30 * np.eye(30)
    b = rng.standard_normal(30)
    calls = {"n": 0}

    def apply_A(x):
        calls["n"] += 1
        return A @ x

    ref = pcg(apply_A, b, lambda r: r / np.diag(A), rtol=1e-10)
    n_ref, calls["n"] = calls["n"], 0
    res = pcg(apply_A, b, lambda r: r / np.diag(A), rtol=1e-10, verify=False)
    assert calls["n"] == res.iterations == n_ref - 1
    assert res.converged and res.residual <= 1e-10
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-12, atol=0)
    assert np.linalg.norm(b - A @ res.x) / np.linalg.norm(b) <= 1e-9


def test_solve_hermitian_without_verification():
    rng = np.random.default_rng(4)
    W = dg.random_weights((4,) * 6, rng)
    mu = dg.moment_map(W)
    ref = GramOperator(W).solve_hermitian(mu, rtol=1e-8)
    sol = GramOperator(W).solve_hermitian(mu, rtol=1e-8, verify=False)
    assert sol.converged and sol.iterations == ref.iterations
    assert dg.norm([a - b for a, b in zip(sol.xi, ref.xi, strict=True)]) <= 1e-12 * dg.norm(ref.xi)
