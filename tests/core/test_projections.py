"""Vertical, horizontal and orbit projections against the dense projectors of
``dln_git.testing.dense`` (orthonormal bases from SVDs of the dense Jacobian J and action A).
"""

from __future__ import annotations

import numpy as np
from core_helpers import cases, random_tuple
from hypothesis import given, settings
from hypothesis import strategies as st

import dln_git as dg
from dln_git.testing import dense


def effective_cond(M) -> float:
    """Largest over smallest nonzero singular value (dense numerical rank)."""
    s = np.linalg.svd(M, compute_uv=False)
    r = dense.numerical_rank(M)
    return float(s[0] / s[r - 1]) if r else 1.0


@st.composite
def cases_with_vectors(draw, max_depth: int = 4, max_width: int = 4):
    """``(widths, W, V, U)`` with V, U random weight-space vectors."""
    d, W, is_complex, rng = draw(cases(max_depth=max_depth, max_width=max_width))
    V = random_tuple(rng, [w.shape for w in W], is_complex)
    U = random_tuple(rng, [w.shape for w in W], is_complex)
    return d, W, V, U


def reproject(proj, W, V):
    """Project a vector that is already (numerically) in the target space (its right-hand side
    is rounding noise: the solvers must still converge, a ConvergenceWarning is an error)."""
    return proj(W, V)


def diff(a, b) -> float:
    return dg.norm([x - y for x, y in zip(a, b, strict=True)])


PROJECTIONS = {
    "vertical": (dg.project_vertical, dense.dense_projection_vertical),
    "horizontal": (dg.project_horizontal, dense.dense_projection_horizontal),
    "orbit": (dg.project_orbit, dense.dense_projection_orbit),
}


def tolerance(W, kind) -> float:
    """Solver accuracy scaled by the conditioning of the operator that is inverted."""
    if kind == "orbit":
        c = effective_cond(dense.dense_infinitesimal_action(W)) ** 2
    else:
        c = effective_cond(dense.dense_end_to_end_jacobian(W)) ** 2
    return 1e-10 * max(c, 1.0)


@settings(deadline=None)
@given(cases_with_vectors())
def test_projections_match_dense_projectors(case):
    _d, W, V, _ = case
    for kind, (proj, dense_proj) in PROJECTIONS.items():
        got = dg.pack(proj(W, V))
        ref = dense_proj(W) @ dense.flatten(V)
        assert np.linalg.norm(got - ref) <= tolerance(W, kind) * dg.norm(V), kind


@settings(deadline=None)
@given(cases_with_vectors())
def test_projections_idempotent_and_self_adjoint(case):
    _d, W, V, U = case
    for kind, (proj, _) in PROJECTIONS.items():
        tol = tolerance(W, kind)
        PV = proj(W, V)
        assert [p.shape for p in PV] == [w.shape for w in W]
        assert diff(reproject(proj, W, PV), PV) <= tol * dg.norm(V), kind
        lhs = dg.inner(proj(W, U), V)
        rhs = dg.inner(U, PV)
        assert abs(lhs - rhs) <= tol * dg.norm(U) * dg.norm(V), kind
        # an orthogonal projection does not increase the norm
        assert dg.norm(PV) <= (1 + tol) * dg.norm(V), kind


@settings(deadline=None)
@given(cases_with_vectors())
def test_vertical_plus_horizontal_is_identity_and_orthogonal(case):
    _d, W, V, _ = case
    tol = tolerance(W, "vertical")
    PV = dg.project_vertical(W, V)
    PH = dg.project_horizontal(W, V)
    assert diff([a + b for a, b in zip(PV, PH, strict=True)], V) <= 1e-13 * dg.norm(V)
    assert abs(dg.inner(PV, PH)) <= tol * dg.norm(V) ** 2


@settings(deadline=None)
@given(cases_with_vectors())
def test_vertical_part_in_kernel_and_orbit_part_in_range(case):
    _d, W, V, _ = case
    J = dense.dense_end_to_end_jacobian(W)
    A = dense.dense_infinitesimal_action(W)
    PV = dense.flatten(dg.project_vertical(W, V))
    assert np.linalg.norm(J @ PV) <= tolerance(W, "vertical") * (1 + np.linalg.norm(J, 2)) * dg.norm(V)
    PO = dense.flatten(dg.project_orbit(W, V))
    if A.shape[1]:
        coef, *_ = np.linalg.lstsq(A, PO, rcond=None)
        resid = np.linalg.norm(A @ coef - PO)
    else:
        resid = np.linalg.norm(PO)
    assert resid <= tolerance(W, "orbit") * dg.norm(V)
    # the orbit is inside the fiber: the orbit part is vertical, and P_V fixes it
    assert np.linalg.norm(J @ PO) <= tolerance(W, "orbit") * (1 + np.linalg.norm(J, 2)) * dg.norm(V)
    PO_t = dg.project_orbit(W, V)
    assert diff(reproject(dg.project_vertical, W, PO_t), PO_t) <= tolerance(W, "vertical") * dg.norm(V)
    # the horizontal part moves X exactly as V does: dphi(P_H V) = dphi(V)
    PH = dg.project_horizontal(W, V)
    lhs = dg.end_to_end_differential(W, PH)
    rhs = (J @ dense.flatten(V)).reshape(lhs.shape)
    assert np.linalg.norm(lhs - rhs) <= tolerance(W, "horizontal") * (1 + np.linalg.norm(J, 2)) * dg.norm(V)


@settings(deadline=None)
@given(cases_with_vectors(max_depth=4, max_width=4))
def test_orbit_projection_equals_vertical_off_funnels(case):
    """Off funnel layers (generic W) the gauge directions span the fiber tangent: P_W = Pi_V."""
    d, W, V, _ = case
    if dg.funnel_layers(d):
        # on funnels the orbit is strictly smaller: P_W V is the projection of Pi_V V
        PO = reproject(dg.project_orbit, W, dg.project_vertical(W, V))
        assert diff(PO, dg.project_orbit(W, V)) <= tolerance(W, "orbit") * dg.norm(V)
        return
    tol = max(tolerance(W, "orbit"), tolerance(W, "vertical"))
    assert diff(dg.project_orbit(W, V), dg.project_vertical(W, V)) <= tol * dg.norm(V)


def test_reprojecting_a_vertical_vector_does_not_warn():
    W = (np.array([[-0.20202429, 0.97938051]]), np.array([[0.19217965], [-0.98135976]]))
    V = (np.array([[0.12573022, -0.13210486]]), np.array([[0.64042265], [0.10490012]]))
    PV = dg.project_vertical(W, V)
    again = dg.project_vertical(W, PV)  # raises (warnings are errors in this project)
    assert diff(again, PV) <= 1e-14
