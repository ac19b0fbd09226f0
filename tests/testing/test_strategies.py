"""Tests for the public Hypothesis strategies in ``dln_git.testing.strategies``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dln_git.testing import strategies as dst

SETTINGS = settings(max_examples=30, deadline=None)
RTOL = 1e-9  # slack for condition numbers recomputed by an SVD


def _svals(M: np.ndarray) -> np.ndarray:
    return np.linalg.svd(M, compute_uv=False)


def _cond(M: np.ndarray) -> float:
    s = _svals(M)
    return float(s.max() / s.min())


def _feasible(pattern: str, min_depth: int, max_depth: int, lo: int, hi: int) -> bool:
    """Independent statement of when each width pattern exists within the bounds."""
    if pattern in ("equal", "any"):
        return True
    depths = range(max(min_depth, 2), max_depth + 1)
    if pattern == "wide":
        return len(depths) > 0
    if pattern == "bottleneck":
        return len(depths) > 0 and hi >= max(lo + 1, 2)
    if pattern == "funnel":  # N + 1 distinct values in [lo, hi]
        return any(N + 1 <= hi - lo + 1 for N in depths)
    raise AssertionError(pattern)


def _check_pattern(pattern: str, d: tuple[int, ...], lo: int, hi: int) -> None:
    hidden = d[1:-1]
    if pattern == "equal":
        assert len(set(d)) == 1
    elif pattern == "wide":
        assert len(d) >= 3
        assert min(hidden) >= max(d[0], d[-1])
        if lo < hi:
            assert max(hidden) > max(d[0], d[-1])
    elif pattern == "bottleneck":
        assert len(d) >= 3
        assert min(d[0], d[-1]) >= 2
        assert min(hidden) < min(d[0], d[-1])
    elif pattern == "funnel":
        assert len(d) >= 3
        steps = np.diff(d)
        assert np.all(steps > 0) or np.all(steps < 0), d


# ---------------------------------------------------------------------------------------------
# widths
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_widths_respect_bounds_and_pattern(data):
    min_depth = data.draw(st.integers(1, 4), label="min_depth")
    max_depth = data.draw(st.integers(min_depth, 5), label="max_depth")
    lo = data.draw(st.integers(1, 5), label="min_width")
    hi = data.draw(st.integers(lo, 7), label="max_width")
    pattern = data.draw(st.sampled_from(dst.PATTERNS), label="pattern")
    kwargs = dict(min_depth=min_depth, max_depth=max_depth, min_width=lo, max_width=hi)
    if not _feasible(pattern, min_depth, max_depth, lo, hi):
        with pytest.raises(ValueError):
            dst.widths(patterns=(pattern,), **kwargs)
        return
    d = data.draw(dst.widths(patterns=(pattern,), **kwargs), label="widths")
    assert isinstance(d, tuple) and all(isinstance(x, int) for x in d)
    assert min_depth <= len(d) - 1 <= max_depth
    assert all(lo <= x <= hi for x in d)
    if len(d) == 2:
        assert pattern in ("equal", "any")
    _check_pattern(pattern, d, lo, hi)


@SETTINGS
@given(dst.widths(patterns="funnel"))
def test_funnel_is_strictly_monotone(d):
    assert len(d) >= 3
    steps = np.diff(d)
    assert np.all(steps > 0) or np.all(steps < 0)


@SETTINGS
@given(dst.widths(patterns=("wide",)))
def test_wide_hidden_at_least_ends(d):
    assert min(d[1:-1]) >= max(d[0], d[-1])
    assert max(d[1:-1]) > max(d[0], d[-1])  # default bounds allow excess width


@SETTINGS
@given(dst.widths(patterns=("bottleneck",)))
def test_bottleneck_has_narrow_hidden_layer(d):
    assert min(d[0], d[-1]) >= 2
    assert min(d[1:-1]) < min(d[0], d[-1])


def test_widths_invalid_arguments():
    with pytest.raises(ValueError):
        dst.widths(min_depth=0)
    with pytest.raises(ValueError):
        dst.widths(min_depth=3, max_depth=2)
    with pytest.raises(ValueError):
        dst.widths(min_width=4, max_width=3)
    with pytest.raises(ValueError):
        dst.widths(patterns=("spiral",))
    with pytest.raises(ValueError):
        dst.widths(patterns=())
    with pytest.raises(ValueError, match="funnel"):
        dst.widths(max_depth=1, patterns=("funnel", "wide"))


@SETTINGS
@given(dst.widths(max_depth=1))
def test_widths_skip_infeasible_patterns(d):
    # Only "equal" and "any" can be built at depth 1; the other default patterns are skipped.
    assert len(d) == 2


# ---------------------------------------------------------------------------------------------
# spectra and orthonormal factors
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(
    n=st.integers(0, 6),
    cond=st.floats(1.0, 1e6),
    scale=st.floats(1e-3, 1e3),
    data=st.data(),
)
def test_spectra_bounds(n, cond, scale, data):
    s = data.draw(dst.spectra(n, cond=cond, scale=scale))
    assert s.shape == (n,) and s.dtype == np.float64
    if n:
        assert np.all(np.diff(s) <= 0)
        assert s.min() >= scale / np.sqrt(cond) * (1 - 1e-15)
        assert s.max() <= scale * np.sqrt(cond) * (1 + 1e-15)
        assert s.max() / s.min() <= cond


@SETTINGS
@given(n=st.integers(0, 6), data=st.data(), seed=st.integers(0, 2**32 - 1), cplx=st.booleans())
def test_haar_orthonormal(n, data, seed, cplx):
    k = data.draw(st.integers(0, n))
    Q = dst.haar_orthonormal(np.random.default_rng(seed), n, k, complex=cplx)
    assert Q.shape == (n, k)
    assert Q.dtype == (np.complex128 if cplx else np.float64)
    np.testing.assert_allclose(Q.conj().T @ Q, np.eye(k), atol=1e-13)


def test_haar_orthonormal_rejects_too_many_columns():
    with pytest.raises(ValueError):
        dst.haar_orthonormal(0, 2, 3)


# ---------------------------------------------------------------------------------------------
# weights, gauge elements, Lie algebra elements
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), cond=st.floats(1.0, 1e4), cplx=st.booleans())
def test_weights_shapes_and_conditioning(data, cond, cplx):
    d = data.draw(dst.widths())
    W = data.draw(dst.weights(d, cond=cond, complex=cplx, scale=2.0))
    assert isinstance(W, tuple) and len(W) == len(d) - 1
    for i, Wi in enumerate(W, start=1):
        assert Wi.shape == (d[i], d[i - 1])
        assert Wi.dtype == (np.complex128 if cplx else np.float64)
        s = _svals(Wi)
        assert len(s) == min(d[i], d[i - 1])
        assert s.max() / s.min() <= cond * (1 + RTOL)
        assert s.min() >= 2.0 / np.sqrt(cond) * (1 - RTOL)
        assert s.max() <= 2.0 * np.sqrt(cond) * (1 + RTOL)
    X = W[0]
    for Wi in W[1:]:
        X = Wi @ X
    assert X.shape == (d[-1], d[0])


@SETTINGS
@given(dst.weights(dst.widths(), complex=True))
def test_weights_accept_widths_strategy_complex(W):
    assert all(Wi.dtype == np.complex128 for Wi in W)
    for A, B in itertools.pairwise(W):
        assert B.shape[1] == A.shape[0]


@SETTINGS
@given(data=st.data(), cond=st.floats(1.0, 1e4), cplx=st.booleans())
def test_gauge_elements(data, cond, cplx):
    d = data.draw(dst.widths())
    g = data.draw(dst.gauge_elements(d, cond=cond, complex=cplx))
    assert len(g) == len(d) - 2
    for gi, di in zip(g, d[1:-1], strict=True):
        assert gi.shape == (di, di)
        assert gi.dtype == (np.complex128 if cplx else np.float64)
        assert _cond(gi) <= cond * (1 + RTOL)
        s = _svals(gi)
        assert 1 / np.sqrt(cond) * (1 - RTOL) <= s.min() and s.max() <= np.sqrt(cond) * (1 + RTOL)


@SETTINGS
@given(dst.gauge_elements(dst.widths(min_depth=2), cond=1.0, complex=True))
def test_gauge_elements_cond_one_are_unitary(g):
    for gi in g:
        np.testing.assert_allclose(gi.conj().T @ gi, np.eye(gi.shape[0]), atol=1e-13)


@SETTINGS
@given(data=st.data(), scale=st.floats(0.0, 10.0), cplx=st.booleans(), herm=st.booleans())
def test_lie_algebra_elements(data, scale, cplx, herm):
    d = data.draw(dst.widths())
    xi = data.draw(dst.lie_algebra_elements(d, scale=scale, complex=cplx, hermitian=herm))
    assert len(xi) == len(d) - 2
    for x, di in zip(xi, d[1:-1], strict=True):
        assert x.shape == (di, di)
        assert x.dtype == (np.complex128 if cplx else np.float64)
        assert np.all(np.abs(x) <= scale * (1 + 1e-12))
        if herm:
            np.testing.assert_array_equal(x, x.conj().T)


# ---------------------------------------------------------------------------------------------
# end-to-end matrices
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(
    m=st.integers(1, 6),
    n=st.integers(1, 6),
    data=st.data(),
    cond=st.floats(1.0, 1e4),
    cplx=st.booleans(),
)
def test_end_to_end_matrices(m, n, data, cond, cplx):
    r = data.draw(st.none() | st.integers(0, min(m, n)))
    X = data.draw(dst.end_to_end_matrices((m, n), rank=r, cond=cond, complex=cplx, scale=0.5))
    r = min(m, n) if r is None else r
    assert X.shape == (m, n)
    assert X.dtype == (np.complex128 if cplx else np.float64)
    s = _svals(X)
    if r == 0:
        assert np.all(X == 0)
        return
    assert np.sum(s > 1e-10 * s.max()) == r
    nz = s[:r]
    assert nz.max() / nz.min() <= cond * (1 + RTOL)


def test_end_to_end_matrices_rejects_large_rank():
    with pytest.raises(ValueError):
        dst.end_to_end_matrices((2, 3), rank=3)


# ---------------------------------------------------------------------------------------------
# balanced weights
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), cond=st.floats(1.0, 1e3), cplx=st.booleans())
def test_balanced_weights(data, cond, cplx):
    d = data.draw(dst.widths())
    r_max = min(d)  # the largest rank every layer can carry
    r = data.draw(st.none() | st.integers(0, r_max), label="rank")
    W, X = data.draw(dst.balanced_weights_with_end_to_end(d, rank=r, cond=cond, complex=cplx))
    r = r_max if r is None else r
    N = len(d) - 1
    dtype = np.complex128 if cplx else np.float64
    assert len(W) == N and X.dtype == dtype
    for i, Wi in enumerate(W, start=1):
        assert Wi.shape == (d[i], d[i - 1]) and Wi.dtype == dtype
    scale2 = max(np.linalg.norm(Wi) ** 2 for Wi in W) or 1.0
    for A, B in itertools.pairwise(W):
        mu = A @ A.conj().T - B.conj().T @ B
        assert np.linalg.norm(mu) <= 1e-12 * scale2
    P = W[0]
    for Wi in W[1:]:
        P = Wi @ P
    assert np.linalg.norm(P - X) <= 1e-12 * max(np.linalg.norm(X), 1.0)
    s = _svals(P)
    rank = int(np.sum(s > 1e-10 * max(s.max(), 1.0)))
    assert rank == r
    if r:
        assert s[0] / s[r - 1] <= cond * (1 + RTOL)
        # the SVD chart attains min R = (N/2) sum s_k^(2/N) on the fiber
        R = 0.5 * sum(np.linalg.norm(Wi) ** 2 for Wi in W)
        np.testing.assert_allclose(R, 0.5 * N * np.sum(s[:r] ** (2 / N)), rtol=1e-12)


@SETTINGS
@given(dst.balanced_weights(dst.widths(patterns=("wide", "equal")), complex=True))
def test_balanced_weights_strategy_widths_complex(W):
    assert all(Wi.dtype == np.complex128 for Wi in W)
    for A, B in itertools.pairwise(W):
        mu = A @ A.conj().T - B.conj().T @ B
        assert np.linalg.norm(mu) <= 1e-12 * max(np.linalg.norm(A) ** 2, 1.0)


def test_balanced_weights_rejects_narrow_hidden_layer():
    with pytest.raises(ValueError, match="hidden layer 2"):
        dst.balanced_weights((3, 3, 1, 3), rank=2)
    with pytest.raises(ValueError):
        dst.balanced_weights((2, 4, 3), rank=3)  # rank > min(d_0, d_N)


@SETTINGS
@given(dst.balanced_weights((3, 1, 3)))
def test_balanced_weights_default_rank_is_min_width(W):
    X = W[1] @ W[0]
    s = _svals(X)
    assert np.sum(s > 1e-10 * s.max()) == 1


# --- hard inputs ----------------------------------------------------------------------------
from dln_git.testing.strategies import (  # noqa: E402
    DEGENERACIES,
    degenerate_weights,
    rescaled_weights,
    unbalanced_weights,
)


@settings(deadline=None, max_examples=40)
@given(degenerate_weights((3, 4, 2, 3)))
def test_degenerate_weights_are_degenerate(W):
    import dln_git as dg

    norms = [np.linalg.norm(w / np.abs(w).max()) * np.abs(w).max() if w.any() else 0.0 for w in W]
    with np.errstate(over="ignore", under="ignore"):
        X = W[2] @ W[1] @ W[0]
    s = np.linalg.svd(np.nan_to_num(X), compute_uv=False)
    zero = min(norms) == 0.0
    product_zero = np.linalg.norm(W[1] @ W[0]) <= 1e-12 * norms[0] * norms[1] or np.linalg.norm(
        W[2] @ W[1]) <= 1e-12 * norms[1] * norms[2]
    ranks = [np.linalg.matrix_rank(w) for w in W]
    tiny_or_huge = max(norms) < 1e-190 or min(norms) > 1e140
    assert zero or product_zero or ranks == [1, 1, 1] or tiny_or_huge
    assert dg.widths_of(W) == (3, 4, 2, 3) and s.shape == (3,)


@pytest.mark.parametrize("kind", DEGENERACIES)
def test_each_degeneracy_is_drawn(kind):
    seen = []

    @settings(deadline=None, max_examples=5, database=None)
    @given(degenerate_weights((2, 3, 3, 2), kinds=(kind,)))
    def run(W):
        seen.append(W)

    run()
    assert seen


@settings(deadline=None, max_examples=30)
@given(rescaled_weights((3, 3, 2), min_exponent=-100, max_exponent=100))
def test_rescaled_weights_carry_their_factor(pair):
    W, c = pair
    k = np.log10(c)
    assert abs(k - round(k)) < 1e-12
    assert all(np.all(np.isfinite(w)) for w in W)


@settings(deadline=None, max_examples=30)
@given(unbalanced_weights((3, 4, 4, 3), max_exponent=8))
def test_unbalanced_weights_keep_the_end_to_end_scale(W):
    # The scalar gauge leaves X = W_3 W_2 W_1 that of layers with spectra in [1/sqrt(10), sqrt(10)],
    # while the layers themselves may be up to 10^8 times larger or smaller.
    X = W[2] @ W[1] @ W[0]
    assert np.linalg.norm(X, 2) <= 10.0 ** 1.5 * (1 + 1e-9)


def test_hard_input_strategies_reject_bad_options():
    with pytest.raises(ValueError, match="kinds"):
        degenerate_weights((2, 2), kinds=("nope",))
    with pytest.raises(ValueError, match="max_exponent"):
        rescaled_weights((2, 2), max_exponent=400)
    with pytest.raises((ValueError, TypeError), match="max_exponent"):
        unbalanced_weights((2, 2), max_exponent=-1)
