"""The derived moment map equals the closed form exactly and the numerical core at random points."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import dln_git as dg
from dln_git.symbolic.lambdify import lambdify_moment_map
from dln_git.symbolic.matrices import evaluate, is_zero, substitution, symbolic_lie_algebra, symbolic_weights
from dln_git.symbolic.moment_map import (
    derive_moment_map,
    moment_map_closed_form,
    orbit_curve,
    symbolic_action_adjoint,
    symbolic_infinitesimal_action,
    symbolic_inner,
    symbolic_regularizer,
)

WIDTHS = [
    (1, 1),  # depth 1: no hidden layer
    (3, 2),  # depth 1
    (2, 2, 2),
    (3, 2, 1),  # funnel
    (1, 2, 3),  # funnel
    (2, 4, 2),  # excess width (stabiliser)
    (2, 3, 3, 2),
    (1, 2, 2),
    (2, 1, 2, 1),
]
CASES = [(w, c) for w in WIDTHS for c in (False, True)]


def _id(case):
    w, c = case
    return f"{w}-{'complex' if c else 'real'}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_derived_equals_closed_form_exactly(case):
    widths, is_complex = case
    mu = derive_moment_map(widths, complex=is_complex)
    W = symbolic_weights(widths, complex=is_complex)
    ref = moment_map_closed_form(W)
    # the same closed form typed here with plain sympy arithmetic (independent of the backend)
    plain = [W[i] * W[i].H - W[i + 1].H * W[i + 1] for i in range(len(W) - 1)]
    assert len(mu) == len(widths) - 2 == len(plain)
    for i, (m, r, p) in enumerate(zip(mu, ref, plain, strict=True), start=1):
        assert isinstance(m, sympy.MutableDenseMatrix)
        assert m.shape == (widths[i], widths[i])
        # exactly zero after expansion, entry by entry (not merely small)
        assert all(sympy.expand(e) == 0 for e in m - r)
        assert all(sympy.expand(e) == 0 for e in m - p)
        # Hermitian
        assert is_zero(m - m.H)
    # mu is a real polynomial map for real weights: no I anywhere
    if not is_complex:
        assert all(not e.has(sympy.I) for m in mu for e in m)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_derived_matches_numeric_core(case):
    widths, is_complex = case
    f = lambdify_moment_map(widths, complex=is_complex)
    W_sym = symbolic_weights(widths, complex=is_complex)
    mu_sym = derive_moment_map(widths, complex=is_complex)
    rng = np.random.default_rng(1234)
    for _ in range(3):
        W = dg.random_weights(widths, rng, complex=is_complex)
        ref = dg.moment_map(W)
        got = f(W)
        assert len(got) == len(ref)
        scale = sum(np.linalg.norm(w) ** 2 for w in W)
        for g, r in zip(got, ref, strict=True):
            assert g.shape == r.shape
            assert g.dtype == (np.complex128 if is_complex else np.float64)
            assert np.max(np.abs(g - r)) <= 1e-12 * scale
    # and by plain substitution (no lambdify) at the last point
    for g, r in zip(evaluate(mu_sym, substitution(W_sym, W)), ref, strict=True):
        assert np.max(np.abs(g - r)) <= 1e-12 * scale


def test_real_moment_map_accepts_real_only_complex_accepts_both():
    widths = (2, 3, 2)
    f = lambdify_moment_map(widths, complex=True)
    W = dg.random_weights(widths, 0)
    got = f(W)
    assert got[0].dtype == np.complex128
    np.testing.assert_allclose(got[0], dg.moment_map(W)[0], atol=1e-13)


def test_depth_one_is_empty():
    assert derive_moment_map((4, 3)) == ()
    assert derive_moment_map((1, 1), complex=True) == ()
    assert lambdify_moment_map((4, 3))(dg.random_weights((4, 3), 0)) == ()


def test_results_are_fresh_copies():
    mu = derive_moment_map((2, 2, 2))
    mu[0][0, 0] = sympy.Integer(7)
    assert derive_moment_map((2, 2, 2))[0][0, 0] != 7


@pytest.mark.parametrize("is_complex", [False, True])
def test_orbit_curve_velocity_is_infinitesimal_action(is_complex):
    widths = (1, 2, 2, 1) if is_complex else (2, 3, 2, 1)
    W = symbolic_weights(widths, complex=is_complex)
    xi = symbolic_lie_algebra(widths, complex=is_complex)
    t = sympy.Symbol("t", real=True)
    for order in (1, 2):
        curve = orbit_curve(W, xi, t, order=order)  # expanded polynomials in t
        # velocity at 0 = coefficient of t (Matrix.diff on these expressions is needlessly slow)
        vel = tuple(C.applyfunc(lambda e: e.coeff(t, 1)) for C in curve)
        assert is_zero([v - a for v, a in zip(vel, symbolic_infinitesimal_action(W, xi), strict=True)])
        assert is_zero([C.xreplace({t: 0}) - w for C, w in zip(curve, W, strict=True)])


def test_defining_property_with_expr_route():
    """Independent of the exact backend: d/dt R(W + t A_W(xi))|_0 = <xi, mu> on sympy expressions."""
    widths = (2, 2, 1)
    for is_complex in (False, True):
        W = symbolic_weights(widths, complex=is_complex)
        xi = symbolic_lie_algebra(widths, complex=is_complex)
        t = sympy.Symbol("t", real=True)
        A = symbolic_infinitesimal_action(W, xi)
        R_t = symbolic_regularizer(tuple(w + t * a for w, a in zip(W, A, strict=True)))
        lhs = sympy.expand(sympy.diff(R_t, t).subs(t, 0))
        rhs = symbolic_inner(xi, derive_moment_map(widths, complex=is_complex))
        assert sympy.expand(lhs - rhs) == 0
        assert is_zero(
            [
                m - a
                for m, a in zip(
                    derive_moment_map(widths, complex=is_complex), symbolic_action_adjoint(W, W), strict=True
                )
            ]
        )


def test_symbolic_action_matches_numeric():
    widths = (2, 3, 2)
    W = symbolic_weights(widths, complex=True)
    xi = symbolic_lie_algebra(widths, complex=True)
    Wn = dg.random_weights(widths, 5, complex=True)
    xin = (np.random.default_rng(6).standard_normal((3, 3)) + 1j,)
    subs = {**substitution(W, Wn), **substitution(xi, xin)}
    got = evaluate(symbolic_infinitesimal_action(W, xi), subs)
    for g, r in zip(got, dg.infinitesimal_action(Wn, xin), strict=True):
        np.testing.assert_allclose(g, r, atol=1e-13)
