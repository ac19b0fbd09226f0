"""SVD chart: balanced point of a fiber and the minimum of the regularizer on it.

Independent references: singular values from ``numpy.linalg.svd``, the nuclear norm for N = 2,
the inequality ``R(W) >= (N/2) sum s_k(phi(W))^{2/N}`` at arbitrary weights, random gauge moves
of the balanced point, and a direct numerical minimisation of ``g -> R(g.W)`` (BFGS over the
entries of g) on closed orbits.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.optimize
from core_helpers import SEEDS, product
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import strategies as dst


def rmin_formula(X, N, rank) -> float:
    """(N/2) sum_k s_k^{2/N} over the ``rank`` nonzero singular values (rank known by
    construction: rounding-level singular values raised to 2/N would pollute the sum)."""
    s = np.linalg.svd(X, compute_uv=False)[:rank]
    return 0.5 * N * float(np.sum(s ** (2.0 / N)))


def half_sq_norm(W) -> float:
    return 0.5 * float(sum(np.linalg.norm(w) ** 2 for w in W))


@st.composite
def fibers(draw, max_depth: int = 4, max_width: int = 4):
    """(widths, X, is_complex) with X of some rank r and every hidden width >= r."""
    is_complex = draw(st.booleans())
    N = draw(st.integers(1, max_depth))
    d0 = draw(st.integers(1, max_width))
    dN = draw(st.integers(1, max_width))
    r = draw(st.integers(0, min(d0, dN)))
    hidden = [draw(st.integers(max(r, 1), max_width + 1)) for _ in range(N - 1)]
    widths = (d0, *hidden, dN)
    X = draw(dst.end_to_end_matrices((dN, d0), rank=r, complex=is_complex))
    return widths, X, is_complex, r


@settings(deadline=None)
@given(fibers(), st.one_of(st.none(), SEEDS))
def test_balanced_from_end_to_end(fiber, seed):
    widths, X, is_complex, r = fiber
    N = len(widths) - 1
    W = dg.balanced_from_end_to_end(X, widths, seed)
    assert len(W) == N
    assert [w.shape for w in W] == [(widths[i], widths[i - 1]) for i in range(1, N + 1)]
    assert all(np.iscomplexobj(w) == is_complex for w in W)
    scale = max(np.linalg.norm(X), 1.0)
    # reproduces X
    assert np.linalg.norm(product(W) - X) <= 1e-12 * scale
    # balanced, checked directly and through the package
    for A, B in itertools.pairwise(W):
        assert np.linalg.norm(A @ A.conj().T - B.conj().T @ B) <= 1e-12 * scale
    assert dg.is_balanced(W)
    # attains the minimum of R, which is given by the independent formula
    rmin = rmin_formula(X, N, r)
    assert abs(dg.min_regularizer(X, N) - rmin) <= 1e-12 * max(rmin, 1.0)
    assert abs(half_sq_norm(W) - rmin) <= 1e-12 * max(rmin, 1.0)
    # every layer has rank r (the balanced point is in the closed orbit)
    assert all(np.linalg.matrix_rank(w, tol=1e-8 * scale) == r for w in W)


@settings(deadline=None)
@given(st.data())
def test_min_regularizer_nuclear_norm_for_depth_two(data):
    m = data.draw(st.integers(1, 5))
    n = data.draw(st.integers(1, 5))
    r = data.draw(st.integers(0, min(m, n)))
    is_complex = data.draw(st.booleans())
    X = data.draw(dst.end_to_end_matrices((m, n), rank=r, complex=is_complex, cond=100.0))
    nuc = np.linalg.norm(X, "nuc")
    assert abs(dg.min_regularizer(X, 2) - nuc) <= 1e-12 * max(nuc, 1.0)
    fro = np.linalg.norm(X) ** 2 / 2
    assert abs(dg.min_regularizer(X, 1) - fro) <= 1e-12 * max(fro, 1.0)
    # deeper: (N/2) sum s^{2/N} from the r largest eigenvalues of X^* X (a second algorithm)
    ev = np.sort(np.linalg.eigvalsh(X.conj().T @ X))[::-1][:r]
    for N in (1, 3, 4, 5):
        ref = 0.5 * N * float(np.sum(ev ** (1.0 / N)))
        assert abs(dg.min_regularizer(X, N) - ref) <= 1e-10 * max(ref, 1.0)


@settings(deadline=None)
@given(st.data())
def test_random_gauge_moves_do_not_go_below_the_minimum(data):
    widths, X, is_complex, _ = data.draw(fibers())
    N = len(widths) - 1
    W = dg.balanced_from_end_to_end(X, widths, data.draw(SEEDS))
    rmin = dg.min_regularizer(X, N)
    for cond in (1.5, 10.0):
        g = data.draw(dst.gauge_elements(widths, cond=cond, complex=is_complex))
        V = dg.gauge_act(g, W)
        assert np.linalg.norm(product(V) - X) <= 1e-11 * max(np.linalg.norm(X), 1.0)
        assert half_sq_norm(V) >= rmin - 1e-11 * max(rmin, 1.0)


@settings(deadline=None)
@given(st.data())
def test_regularizer_bounded_below_on_arbitrary_weights(data):
    """R(W) >= (N/2) sum s_k(X)^{2/N} for any W (not only gauge moves of a balanced point),
    with equality at the SVD-chart point of the same fiber."""
    is_complex = data.draw(st.booleans())
    widths = data.draw(dst.widths(max_depth=4, max_width=4))
    W = data.draw(dst.weights(widths, complex=is_complex))
    X = product(W)
    N = len(widths) - 1
    rmin = rmin_formula(X, N, min(widths))  # full-rank layers: rank X = min(widths)
    assert half_sq_norm(W) >= rmin * (1 - 1e-12)
    B = dg.balanced_from_end_to_end(X, widths, data.draw(SEEDS))
    assert abs(half_sq_norm(B) - rmin) <= 1e-10 * max(rmin, 1.0)
    assert np.linalg.norm(product(B) - X) <= 1e-10 * max(np.linalg.norm(X), 1.0)


@settings(deadline=None)
@given(st.data())
def test_strategy_balanced_points_attain_the_minimum(data):
    """The strategies' own SVD-chart construction agrees with the package's minimum."""
    widths = data.draw(dst.widths(min_depth=1, max_depth=4, max_width=4))
    is_complex = data.draw(st.booleans())
    W, X = data.draw(dst.balanced_weights_with_end_to_end(widths, complex=is_complex))
    N = len(widths) - 1
    assert abs(dg.regularizer(W) - dg.min_regularizer(X, N)) <= 1e-10 * max(dg.regularizer(W), 1.0)
    assert dg.is_balanced(W)


@pytest.mark.parametrize("widths", [(2, 2, 2), (2, 3, 2), (2, 2, 2, 2), (3, 2, 2, 3), (1, 3, 1)], ids=str)
def test_min_regularizer_against_direct_minimisation(widths):
    """Minimise g -> R(g.W) with BFGS over the entries of g (closed generic orbits only, so
    the infimum is attained) and compare with (N/2) sum s^{2/N}."""
    assert dg.generic_orbits_closed(widths)
    rng = np.random.default_rng(sum(widths))
    W = tuple(rng.standard_normal((widths[i], widths[i - 1])) for i in range(1, len(widths)))
    X = product(W)
    hidden = widths[1:-1]
    sizes = [h * h for h in hidden]

    def act(p):
        gs, k = [], 0
        for h, n in zip(hidden, sizes, strict=True):
            gs.append(np.eye(h) + p[k : k + n].reshape(h, h))
            k += n
        out = []
        for i, w in enumerate(W):
            M = w
            if i < len(W) - 1:
                M = gs[i] @ M
            if i > 0:
                M = np.linalg.solve(gs[i - 1].T, M.T).T
            out.append(M)
        return out

    best = np.inf
    for _ in range(3):
        p0 = 0.1 * rng.standard_normal(sum(sizes))
        res = scipy.optimize.minimize(lambda p: half_sq_norm(act(p)), p0, method="BFGS",
                                      options={"gtol": 1e-10, "maxiter": 5000})
        best = min(best, res.fun)
    rmin = dg.min_regularizer(X, len(W))
    assert best >= rmin * (1 - 1e-10)
    assert best <= rmin * (1 + 1e-6)


def test_rank_deficient_x_with_narrow_hidden_layers():
    """rank X = 2 < min(d_0, d_N): hidden widths >= 2 work, a hidden width 1 raises."""
    rng = np.random.default_rng(3)
    for is_complex in (False, True):
        U = rng.standard_normal((4, 2)) + (1j * rng.standard_normal((4, 2)) if is_complex else 0)
        V = rng.standard_normal((2, 5)) + (1j * rng.standard_normal((2, 5)) if is_complex else 0)
        X = U @ V  # 4 x 5 of rank 2
        for widths in [(5, 2, 4), (5, 2, 2, 4), (5, 3, 2, 6, 4), (5, 4)]:
            if len(widths) == 2:
                widths = (5, 4)
            W = dg.balanced_from_end_to_end(X, widths, rng)
            N = len(widths) - 1
            assert np.linalg.norm(product(W) - X) <= 1e-12 * np.linalg.norm(X)
            assert dg.is_balanced(W)
            assert abs(dg.regularizer(W) - rmin_formula(X, N, 2)) <= 1e-12 * rmin_formula(X, N, 2)
            assert abs(dg.min_regularizer(X, N) - rmin_formula(X, N, 2)) <= 1e-12 * rmin_formula(X, N, 2)
            reg = dg.regime(W)
            assert reg.rank_x == 2
        for widths in [(5, 1, 4), (5, 3, 1, 4), (5, 1, 1, 4)]:
            with pytest.raises(ValueError, match=r"hidden layer \d+ has width 1 < rank X = 2"):
                dg.balanced_from_end_to_end(X, widths, rng)


def test_frames_sweep_the_k_orbit():
    """Different generators give different balanced points of the same fiber, related by K:
    W'_i = k_i W_i k_{i-1}^* with unitary k (checked through the layer Gram matrices)."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((3, 3))
    widths = (3, 4, 5, 3)
    W1 = dg.balanced_from_end_to_end(X, widths, 1)
    W2 = dg.balanced_from_end_to_end(X, widths, 2)
    W0 = dg.balanced_from_end_to_end(X, widths)
    W0b = dg.balanced_from_end_to_end(X, widths, None)
    assert all(np.array_equal(a, b) for a, b in zip(W0, W0b, strict=True))  # deterministic
    assert dg.norm([a - b for a, b in zip(W1, W2, strict=True)]) > 1e-3
    for A, B in zip(W1, W2, strict=True):
        sa = np.linalg.svd(A, compute_uv=False)
        sb = np.linalg.svd(B, compute_uv=False)
        assert np.allclose(sa, sb, atol=1e-12)
    # hidden Gram matrices are unitarily similar: same spectra
    for A, B in zip(W1[:-1], W2[:-1], strict=True):
        ea = np.linalg.eigvalsh(A @ A.T)
        eb = np.linalg.eigvalsh(B @ B.T)
        assert np.allclose(ea, eb, atol=1e-12)
