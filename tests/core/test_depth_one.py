"""Depth N = 1: no hidden layer, trivial gauge group, phi = identity on W_1."""

from __future__ import annotations

import numpy as np
from core_helpers import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense
from dln_git.testing import strategies as dst


@st.composite
def depth_one(draw):
    is_complex = draw(st.booleans())
    d = draw(dst.widths(min_depth=1, max_depth=1, max_width=5))
    W = draw(dst.weights(d, complex=is_complex))
    rng = np.random.default_rng(draw(SEEDS))
    V = rng.standard_normal(W[0].shape)
    if is_complex:
        V = V + 1j * rng.standard_normal(V.shape)
    return d, W, (V,), is_complex


@settings(deadline=None)
@given(depth_one())
def test_depth_one_everything(case):
    d, W, V, is_complex = case
    (M,) = W
    assert len(d) == 2
    assert dg.widths_of(W) == d
    assert np.array_equal(dg.end_to_end(W), M)
    assert np.array_equal(dg.end_to_end_differential(W, V), V[0])
    adj = dg.end_to_end_differential_adjoint(W, V[0])
    assert len(adj) == 1 and np.array_equal(adj[0], V[0])
    # empty Lie algebra: moment map, adjoint action, gauge group are empty tuples
    assert dg.moment_map(W) == ()
    assert dg.moment_norm(W) == 0.0
    assert dg.is_balanced(W)
    assert dg.infinitesimal_action_adjoint(W, V) == ()
    A = dg.infinitesimal_action(W, ())
    assert len(A) == 1 and A[0].shape == M.shape and not A[0].any()
    assert all(np.array_equal(a, b) for a, b in zip(dg.gauge_act((), W), W, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(dg.gauge_exp((), W, 0.7), W, strict=True))
    # Gram operator on a 0-dimensional space; solve_gram is trivially non-singular
    G = dg.gram_operator(W)
    assert G.shape == (0, 0)
    sol = dg.solve_gram(W, ())
    assert sol.xi == () and sol.converged and sol.singular is False and sol.kernel_dim == 0
    # projections: the fiber is a point, so vertical = 0, orbit = 0, horizontal = identity
    PV = dg.project_vertical(W, V)
    PH = dg.project_horizontal(W, V)
    PO = dg.project_orbit(W, V)
    scale = np.linalg.norm(V[0])
    assert np.linalg.norm(PV[0]) <= 1e-12 * scale
    assert np.linalg.norm(PO[0]) == 0.0
    assert np.linalg.norm(PH[0] - V[0]) <= 1e-12 * scale
    assert np.allclose(dense.dense_projection_vertical(W), 0.0)
    # the end-to-end metric is the identity
    Mt = dg.end_to_end_metric(W)
    n = d[0] * d[1]
    dtype = np.complex128 if is_complex else np.float64
    assert np.allclose(Mt @ np.eye(n, dtype=dtype), np.eye(n))
    assert np.allclose(dense.dense_end_to_end_metric(W), np.eye(n))
    msol = dg.solve_end_to_end_metric(W, V[0])
    assert np.linalg.norm(msol.Z - V[0]) <= 1e-12 * scale
    # width rules and regime
    assert dg.funnel_layers(d) == ()
    assert dg.stabiliser_layers(d) == ()
    assert dg.generic_orbits_closed(d)
    reg = dg.regime(W)
    assert reg.depth == 1
    assert reg.lie_algebra_dim == reg.orbit_dim == reg.stabiliser_dim == reg.fiber_dim == 0
    assert reg.differential_rank == n
    assert reg.orbit_closed and reg.orbit_is_fiber
    assert reg.rank_x == min(d)
    # the fiber is {X}: R(W) = 1/2 ||X||^2 is its minimum, attained by the SVD chart (W_1 = X)
    assert abs(dg.regularizer(W) - dg.min_regularizer(M, 1)) <= 1e-12 * dg.regularizer(W)
    B = dg.balanced_from_end_to_end(M, d)
    assert len(B) == 1 and np.linalg.norm(B[0] - M) <= 1e-12 * np.linalg.norm(M)
    assert np.iscomplexobj(B[0]) == is_complex
    assert dg.random_weights(d, 0)[0].shape == M.shape
