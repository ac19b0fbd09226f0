"""Hard inputs for the core: scale, unbalanced gauges, degenerate weights, mixed dtypes, copies,
memory. Each class of failure found by the outside reliability pass has a test here that would
have caught it; references are independent (80-digit mpmath, closed forms, homogeneity)."""

from __future__ import annotations

import tracemalloc
import warnings

import mpmath as mp
import numpy as np
import pytest
from core_helpers import product
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.core.errors import ConvergenceWarning
from dln_git.core.linalg import norm as _norm
from dln_git.testing.strategies import degenerate_weights, rescaled_weights, unbalanced_weights

SCALES = (1e-150, 1e-50, 1.0, 1e50, 1e150)
WIDTHS = st.sampled_from([(3, 3, 3, 3), (2, 3, 2), (3, 4, 2, 3), (2, 2), (3, 2, 4, 3)])


def _rel(a, b) -> float:
    a, b = (a,) if isinstance(a, np.ndarray) else tuple(a), (b,) if isinstance(b, np.ndarray) else tuple(b)
    num = np.sqrt(sum(np.linalg.norm(x - y) ** 2 for x, y in zip(a, b, strict=True)))
    den = np.sqrt(sum(np.linalg.norm(y) ** 2 for y in b))
    return float(num / den) if den > 0 else float(num)


def _product(mats, n):
    """``mats[-1] ... mats[0]`` (core_helpers.product), the ``n x n`` identity if empty."""
    return product(mats) if len(mats) else np.eye(n)


def _scaled(W, c):
    return tuple(c * w for w in W)


# --- scale: every homogeneous function gives the rescaled answer, or says it cannot -----------

HOMOGENEOUS = {
    # name: (function of W, its degree in W, its natural size at W of scale 1). The natural size
    # sets the error scale: at balanced W, mu is rounding noise and only an absolute comparison
    # on the scale of ||W||^2 means anything.
    "moment_map": (dg.moment_map, 2, lambda W: dg.regularizer(W)),
    "project_vertical": (lambda W: dg.project_vertical(W, W), 1, _norm),  # linear in V = W
    "project_horizontal": (lambda W: dg.project_horizontal(W, W), 1, _norm),
    "project_orbit": (lambda W: dg.project_orbit(W, W), 1, _norm),
    # rhs scales by c^2, the operator by c^2: xi is scale-free, of size ~1 for layers of cond <= 10
    "solve_gram": (lambda W: dg.solve_gram(W, dg.moment_map(W)).xi, 0, lambda W: 1.0),
}


@pytest.mark.parametrize("name", sorted(HOMOGENEOUS))
@settings(max_examples=8, deadline=None)
@given(W=WIDTHS.flatmap(lambda d: dg.testing.strategies.weights(d, cond=10.0)))
def test_scale_sweep_gives_the_rescaled_answer(name, W):
    f, degree, size = HOMOGENEOUS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ref = f(W)
        for c in SCALES:
            try:
                got = f(_scaled(W, c))
            except ValueError as exc:  # allowed only when float64 cannot hold the result
                assert "not representable" in str(exc)
                assert abs(np.log10(c)) * max(degree, 2) > 290
                continue
            got = tuple(g / c**degree for g in got) if degree else got
            err = np.sqrt(sum(np.linalg.norm(g - r) ** 2 for g, r in zip(got, ref, strict=True)))
            assert err <= 1e-12 * max(size(W), _norm(ref)), (name, c)


@settings(max_examples=10, deadline=None)
@given(rescaled_weights(WIDTHS, min_exponent=-150, max_exponent=150))
def test_scalar_functions_and_regime_are_scale_free(pair):
    Wc, c = pair
    W = _scaled(Wc, 1.0 / c)
    assert dg.is_balanced(Wc) == dg.is_balanced(W)
    assert dg.moment_norm(Wc) / c**2 == pytest.approx(dg.moment_norm(W), rel=1e-12)
    assert dg.regularizer(Wc) / c**2 == pytest.approx(dg.regularizer(W), rel=1e-12)
    r, rc = dg.regime(W), dg.regime(Wc)
    assert (rc.rank_x, rc.layer_ranks, rc.stabiliser_dim, rc.fiber_dim) == (
        r.rank_x, r.layer_ranks, r.stabiliser_dim, r.fiber_dim)


def test_tiny_weights_are_not_balanced_by_underflow():
    # 1e-100 W: W W^* underflows entrywise to 0 if evaluated naively, so every W looked balanced.
    W = dg.random_weights((3, 3, 3, 3), rng=0)
    assert not dg.is_balanced(W)
    assert not dg.is_balanced(_scaled(W, 1e-100))
    Wb = dg.balanced_from_end_to_end(dg.end_to_end(W), (3, 3, 3, 3))
    assert dg.is_balanced(_scaled(Wb, 1e-100)) and dg.is_balanced(_scaled(Wb, 1e100))


def test_unrepresentable_end_to_end_is_a_clear_error():
    W = dg.random_weights((3, 3, 3, 3), rng=0)
    with pytest.raises(ValueError, match="X = phi\\(W\\) is not representable"):
        dg.end_to_end(_scaled(W, 1e150))
    with pytest.raises(ValueError, match="not representable"):
        dg.end_to_end(_scaled(W, 1e-150))


def test_svd_chart_and_min_regularizer_at_extreme_scales():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 4))
    s = np.linalg.svd(X, compute_uv=False)
    for c in (1e-300, 1e-100, 1e100, 1e300):
        # closed form (N/2) sum s_k^{2/N} with N = 3, rescaled by c^{2/3}
        expected = 1.5 * np.sum(s ** (2 / 3)) * c ** (2 / 3)
        assert dg.min_regularizer(c * X, 3) == pytest.approx(expected, rel=1e-13)
        Wb = dg.balanced_from_end_to_end(c * X, (4, 3, 3, 3))
        assert dg.is_balanced(Wb)
        assert _rel(dg.end_to_end(tuple(w / c ** (1 / 3) for w in Wb)), X) <= 1e-13


# --- unbalanced gauges: projections checked against an 80-digit reference ---------------------

def _mp_vertical(W, V):
    """``Pi_V(V) = V - J^T (J J^T)^{-1} J V`` in 80-digit arithmetic (J built from exact entries)."""
    mp.mp.dps = 80
    Wm = [mp.matrix(w.tolist()) for w in W]
    shapes = [w.shape for w in W]
    cols = []
    for j, (r, c) in enumerate(shapes):
        for a in range(r):
            for b in range(c):
                E = [mp.zeros(*s) for s in shapes]
                E[j][a, b] = 1
                T, F = E[0], Wm[0]
                for k in range(1, len(W)):
                    T, F = Wm[k] * T + E[k] * F, Wm[k] * F
                cols.append([T[i, m] for i in range(T.rows) for m in range(T.cols)])
    J = mp.matrix(cols).T
    v = mp.matrix([x for w in V for x in np.ravel(w).tolist()])
    p = v - J.T * mp.lu_solve(J * J.T, J * v)
    out, k = [], 0
    for r, c in shapes:
        out.append(np.array([[float(p[k + a * c + b]) for b in range(c)] for a in range(r)]))
        k += r * c
    return out


@pytest.mark.parametrize("t1,t2", [(1e8, 1e8), (1e4, 1.0), (1e-6, 1.0)])
def test_vertical_projection_at_unbalanced_gauges_layer_by_layer(t1, t2):
    # The reproducer: layers scaled 1e8 / 1 / 1e-8 (the scalar gauge t = (1e8, 1e8): X unchanged)
    # made project_vertical return W itself. Each layer must match the 80-digit reference
    # relative to its own norm.
    W = dg.random_weights((3, 3, 3, 3), rng=0)
    t = [1.0, t1, t2, 1.0]  # W_i -> (t_i / t_{i-1}) W_i
    Wu = tuple((t[i + 1] / t[i]) * w for i, w in enumerate(W))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        got = dg.project_vertical(Wu, Wu)
    ref = _mp_vertical(Wu, Wu)
    for g, r in zip(got, ref, strict=True):
        assert np.linalg.norm(g - r) <= 1e-12 * np.linalg.norm(r)
    assert any(np.linalg.norm(g - w) > 1e-3 * np.linalg.norm(w) for g, w in zip(got, Wu, strict=True))


@settings(max_examples=10, deadline=None)
@given(unbalanced_weights(st.sampled_from([(2, 3, 2), (3, 3, 3, 3), (2, 3, 3, 2)]), max_exponent=6))
def test_vertical_projection_is_vertical_layer_by_layer(W):
    # dphi(Pi_V W) = 0 to the rounding level of the terms of dphi(W) (what the projection removes);
    # the layer-wise 80-digit comparison is in the test above.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        P = dg.project_vertical(W, W)
    terms = 0.0
    for j in range(len(W)):
        B = _product(W[j + 1:], W[j].shape[0])
        F = _product(W[:j], W[j].shape[1])
        terms += np.linalg.norm(B, 2) * np.linalg.norm(W[j]) * np.linalg.norm(F, 2)  # size of dphi(V), V = W
    dX = dg.end_to_end_differential(W, P)
    assert np.linalg.norm(dX) <= 1e-10 * max(terms, 1e-300)


# --- degenerate weights -----------------------------------------------------------------------

CORE_CALLS = {
    "moment_map": lambda W: dg.moment_map(W),
    "regime": lambda W: (dg.regime(W).rank_x,),
    "solve_gram": lambda W: dg.solve_gram(W, dg.moment_map(W)).xi,
    "project_vertical": lambda W: dg.project_vertical(W, W),
    "project_orbit": lambda W: dg.project_orbit(W, W),
    "stabiliser": lambda W: (dg.stabiliser_subspace(W).dim,),
    "cokernel": lambda W: (dg.differential_cokernel(W).dim,),
}


@pytest.mark.parametrize("name", sorted(CORE_CALLS))
@settings(max_examples=12, deadline=None)
@given(W=WIDTHS.flatmap(lambda d: degenerate_weights(d, kinds=("zero_layer", "zero_product", "rank_one"))))
def test_degenerate_weights_give_finite_answers(name, W):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow/0-division inside
        out = CORE_CALLS[name](W)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in out)


def test_zero_layer_projections_closed_form():
    # W_3 = 0: dphi_W(V) = V_3 W_2 W_1, so Pi_H(V) = (0, 0, V_3 P) with P the projector onto
    # range((W_2 W_1)^*) = everything when W_2 W_1 is invertible: Pi_V(V) = (V_1, V_2, 0).
    W = dg.random_weights((3, 3, 3, 3), rng=0)
    Z = (W[0], W[1], np.zeros((3, 3)))
    V = dg.random_weights((3, 3, 3, 3), rng=1)
    P = dg.project_vertical(Z, V)
    assert _rel(P, (V[0], V[1], np.zeros((3, 3)))) <= 1e-13
    assert all(np.isfinite(x).all() for x in dg.moment_map(tuple(np.zeros((3, 3)) for _ in range(3))))
    assert dg.regime(tuple(np.zeros((3, 3)) for _ in range(3))).extra_fiber_component == 0.0


# --- mixed real / complex, copies --------------------------------------------------------------

def test_real_data_at_complex_weights_is_promoted():
    W = dg.random_weights((3, 4), rng=0, complex=True)
    V = (np.ones((4, 3)),)
    P = dg.project_vertical(W, V)  # depth 1: dphi = identity, Pi_V = 0
    assert P[0].dtype == np.complex128 and np.allclose(P[0], 0)
    W = dg.random_weights((3, 4, 2), rng=0, complex=True)
    sol = dg.solve_end_to_end_metric(W, np.ones((2, 3)))
    assert sol.converged
    assert np.allclose(dg.end_to_end_metric(W).apply(sol.Z), np.ones((2, 3)))
    W = dg.random_weights((3, 3, 3), rng=0, complex=True)  # no stabiliser layer: A^*A invertible
    xi = dg.solve_gram(W, (np.eye(3),)).xi
    assert np.allclose(dg.gram_operator(W).apply(xi)[0], np.eye(3))


@pytest.mark.parametrize("widths", [(3, 4), (3, 3, 3)])
def test_results_never_share_memory_with_inputs(widths):
    W = dg.random_weights(widths, rng=0)
    Z = tuple(np.zeros_like(w) for w in W)
    for Wt in (W, Z):
        hidden = tuple(np.eye(d) for d in widths[1:-1])
        outs = [
            dg.gauge_act(hidden, Wt), dg.gauge_exp(tuple(np.zeros((d, d)) for d in widths[1:-1]), Wt),
            dg.project_vertical(Wt, Wt), dg.project_orbit(Wt, Wt), dg.project_horizontal(Wt, Wt),
            (dg.end_to_end(Wt),), dg.end_to_end_differential_adjoint(Wt, np.ones((widths[-1], widths[0]))),
        ]
        for out in outs:
            for x in out:
                assert not any(np.may_share_memory(x, w) for w in Wt)


# --- options ----------------------------------------------------------------------------------

W3 = dg.random_weights((3, 3, 3, 3), rng=0)
BAD_OPTIONS = [
    (lambda: dg.solve_gram(W3, dg.moment_map(W3), rank_rtol=2.0), "rank_rtol"),
    (lambda: dg.solve_gram(W3, dg.moment_map(W3), rtol=-1.0), "rtol"),
    (lambda: dg.solve_gram(W3, dg.moment_map(W3), maxiter=0), "maxiter"),
    (lambda: dg.solve_gram(W3, dg.moment_map(W3), atol=float("nan")), "atol"),
    (lambda: dg.regime(W3, rtol=-1), "rtol"),
    (lambda: dg.regime(W3, rtol="1e-3"), "rtol"),
    (lambda: dg.is_balanced(W3, rtol=1.5), "rtol"),
    (lambda: dg.project_vertical(W3, W3, rtol=0.0), "rtol"),
    (lambda: dg.project_orbit(W3, W3, rtol=True), "rtol"),
    (lambda: dg.solve_end_to_end_metric(W3, np.eye(3), maxiter=2.5), "maxiter"),
    (lambda: dg.stabiliser_subspace(W3, rtol=3), "rtol"),
    (lambda: dg.differential_cokernel(W3, rtol=-3), "rtol"),
    (lambda: dg.balanced_from_end_to_end(np.eye(3), (3, 3), rtol=1.0), "rtol"),
    (lambda: dg.min_regularizer(np.eye(3), 2, rtol=np.inf), "rtol"),
    (lambda: dg.random_weights((2, 2), scale=0.0), "scale"),
    (lambda: dg.random_weights((2, 2), complex=1), "complex"),
    (lambda: dg.gauge_exp((np.eye(3), np.eye(3)), W3, t=np.nan), "t"),
    (lambda: dg.gram_operator(W3, rank_rtol=0.0), "rank_rtol"),
]


@pytest.mark.parametrize("call,name", BAD_OPTIONS, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD_OPTIONS)])
def test_bad_options_raise_naming_the_option(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


# --- memory -----------------------------------------------------------------------------------

def test_regime_and_projections_stay_within_o_n_d2_memory_on_a_deep_network():
    # N = 8, width 64 Gaussian weights: a full-matrices SVD of the kernel constraints asked for
    # rows^2 entries (72 GiB at width 128). The inputs are N d^2 = 32768 entries (256 KiB); allow
    # 200 times that.
    W = dg.random_weights((64,) * 9, rng=0)
    budget = 200 * 8 * 64 * 64 * 8
    tracemalloc.start()
    try:
        reg = dg.regime(W)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            dg.project_orbit(W, W)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reg.depth == 8
    assert peak <= budget, f"peak {peak / 2**20:.1f} MiB > {budget / 2**20:.1f} MiB"


def test_vertical_projection_when_krylov_stagnates_at_layer_scales_1e15_apart():
    # Drawn by unbalanced_weights in a clean CI run: PCG on the metric stagnated at a relative
    # residual 3.6e-8; the small dense system (d_N d_0 = 2) is solved instead.
    W = (np.array([[46133288.97588019, 17376704.55090193, 11002207.72790091],
                   [28516965.0541255, 72580844.84719461, 13166379.77092586]]),
         np.array([[-4.92646870e-16, 8.15031691e-16], [-1.17738510e-15, -7.52718193e-16]]),
         np.array([[-2.83297814e15, 1.24892538e15]]),
         np.array([[-7.15900782e-10], [-7.25317323e-09]]))
    rng = np.random.default_rng(536870912)
    for V in (W, tuple(rng.standard_normal(w.shape) for w in W)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            P = dg.project_vertical(W, V)
        terms = sum(np.linalg.norm(_product(W[j + 1:], W[j].shape[0]), 2) * np.linalg.norm(V[j])
                    * np.linalg.norm(_product(W[:j], W[j].shape[1]), 2) for j in range(len(W)))
        assert np.linalg.norm(dg.end_to_end_differential(W, P)) <= 1e-9 * terms
