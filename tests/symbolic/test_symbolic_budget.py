"""Symbolic layer: the cost budget of prove_identities, options named in errors, degenerate
inputs (depth 1, width 1, zero and rational matrices), and the API of the split modules."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from dln_git.symbolic import count_conservation_laws, lambdify_moment_map, matrices, polyalgebra
from dln_git.symbolic.identities import DEFAULT_IDENTITY_MAX_COST, identity_cost, prove_identities
from dln_git.symbolic.matrices import matrix_symbols, symbolic_end_to_end, symbolic_lie_algebra, symbolic_weights
from dln_git.symbolic.moment_map import moment_map_closed_form, orbit_curve


def _symbol_count(widths, cx: bool) -> int:
    """Real symbols of W, dW and xi, counted on the matrices themselves."""
    w = len(matrix_symbols(symbolic_weights(widths, complex=cx, max_symbols=10**6)))
    xi = len(matrix_symbols(symbolic_lie_algebra(widths, complex=cx, max_symbols=10**6)))
    return 2 * w + xi


# ------------------------------------------------------------------------------ identities budget
@pytest.mark.parametrize(("widths", "cx"), [((4, 4, 4, 4), True), ((2,) * 8, True), ((1,) * 20, True)])
def test_slow_identities_below_the_symbol_limit_are_refused(widths, cx):
    """These stay under the 400-symbol limit but ran for minutes: the cost estimate refuses them."""
    n = _symbol_count(widths, cx)
    assert n <= matrices.DEFAULT_MAX_SYMBOLS
    assert identity_cost(widths, complex=cx) > DEFAULT_IDENTITY_MAX_COST
    with pytest.raises(ValueError, match=rf"need {n} real symbols and an estimated cost of .* more than max_cost"):
        prove_identities(widths, complex=cx)


def test_identity_cost_grows_with_the_end_to_end_size():
    # n^3 alone cannot tell (2,)*8 complex (160 symbols, 2^8 * 2^8 end-to-end terms) from (4, 4, 4)
    # complex (160 symbols, 256 terms); the measured times differ by more than 10x
    assert _symbol_count((2,) * 8, True) == _symbol_count((4, 4, 4), True) == 160
    assert identity_cost((2,) * 8, complex=True) > 10 * identity_cost((4, 4, 4), complex=True)
    for widths in [(2, 2, 2), (1, 3), (2, 3, 3, 2)]:
        n = _symbol_count(widths, False)
        assert n**3 <= identity_cost(widths) < identity_cost(widths, complex=True)


def test_identity_budget_is_exact_at_the_limit_and_configurable():
    cost = identity_cost((2, 2, 2))
    with pytest.raises(ValueError, match="pass a larger max_cost="):
        prove_identities((2, 2, 2), max_cost=cost - 1)
    assert prove_identities((2, 2, 2), max_cost=cost).all_proved


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"max_cost": 0}, ValueError, "max_cost = 0.0 is outside"),
        ({"max_cost": "1e9"}, TypeError, "max_cost must be a real number"),
        ({"complex": 1}, TypeError, "complex must be True or False"),
        ({"max_symbols": 2.5}, TypeError, "max_symbols must be an integer"),
    ],
)
def test_identity_options_are_named(kw, exc, match):
    with pytest.raises(exc, match=match):
        prove_identities((2, 2, 2), **kw)


def test_orbit_curve_order_is_validated_by_name():
    W, xi = symbolic_weights((1, 1, 1)), symbolic_lie_algebra((1, 1, 1))
    with pytest.raises(ValueError, match="order = 0 is outside"):
        orbit_curve(W, xi, sympy.Symbol("t"), order=0)
    with pytest.raises(TypeError, match="order must be an integer"):
        orbit_curve(W, xi, sympy.Symbol("t"), order=1.0)


# ------------------------------------------------------------------------------ degenerate inputs
def test_zero_and_rational_matrices_against_fractions():
    A = [[Fraction(1, 2), Fraction(0), Fraction(1)], [Fraction(0), Fraction(1), Fraction(-3, 7)]]
    B = [[Fraction(1), Fraction(2, 3)]]
    X = [[sum(B[0][k] * A[k][j] for k in range(2)) for j in range(3)]]  # B A by hand
    W = (sympy.Matrix(A), sympy.Matrix(B))
    assert symbolic_end_to_end(W) == sympy.Matrix(X)
    (mu,) = moment_map_closed_form(W)  # mu_1 = A A^T - B^T B
    ref = [[sum(A[i][k] * A[j][k] for k in range(3)) - B[0][i] * B[0][j] for j in range(2)] for i in range(2)]
    assert mu == sympy.Matrix(ref)
    Z = (sympy.zeros(2, 3), sympy.zeros(1, 2))
    assert symbolic_end_to_end(Z) == sympy.zeros(1, 3) and moment_map_closed_form(Z)[0] == sympy.zeros(2, 2)


def test_lambdified_moment_map_at_zero_and_width_one():
    f = lambdify_moment_map((3, 1, 2))
    out = f((np.zeros((1, 3)), np.zeros((2, 1))))
    assert len(out) == 1 and out[0].shape == (1, 1) and out[0][0, 0] == 0.0
    w1, w2 = np.array([[1.0, 2.0, 3.0]]), np.array([[4.0], [5.0]])
    assert f((w1, w2))[0][0, 0] == 14.0 - 41.0  # |w1|^2 - |w2|^2


@pytest.mark.parametrize("cx", [False, True])
def test_depth_one_and_width_one_networks(cx):
    assert prove_identities((1, 1), complex=cx).all_proved
    assert prove_identities((1, 1, 1), complex=cx).all_proved
    r = count_conservation_laws((1, 1), complex=cx, rng=0)
    assert r.count == 0 and r.saturated
    r = count_conservation_laws((1, 1, 1), complex=cx, rng=0)  # w2 w1: |w1|^2 - |w2|^2 only
    assert r.count == 1 and r.matches


# ------------------------------------------------------------------------------ split modules
def test_split_modules_keep_the_old_import_paths():
    from dln_git.symbolic import identities

    assert matrices.PolyAlgebra is polyalgebra.PolyAlgebra and matrices.PolyMatrix is polyalgebra.PolyMatrix
    for name in identities.__all__ + matrices.__all__:
        mod = identities if name in identities.__all__ else matrices
        assert hasattr(mod, name), name
    from dln_git.symbolic.identities import Identity, IdentityReport, directional_derivative, prove_identity

    assert callable(directional_derivative) and callable(prove_identity) and Identity and IdentityReport


# ------------------------------------------------------------------------------ degenerate weights
@pytest.mark.parametrize("cx", [False, True])
def test_lambdified_moment_map_on_degenerate_weights_matches_core(cx):
    """The compiled derived mu against the hand-written dg.moment_map (independent code) on zero
    layers, X = 0, rank-one and tiny/huge weights: relative error at rounding level."""
    from hypothesis import given, settings

    import dln_git as dg
    from dln_git.testing.strategies import degenerate_weights

    widths = (2, 3, 1, 2)
    f = lambdify_moment_map(widths, complex=cx)

    @settings(deadline=None, max_examples=15)
    @given(degenerate_weights(widths, kinds=("zero_layer", "zero_product", "rank_one", "tiny", "huge"), complex=cx))
    def check(W):
        try:
            core = dg.moment_map(W)
        except ValueError as exc:  # 1e-200 weights: mu ~ 1e-400 underflows, and the core says so
            assert "not representable" in str(exc)
            assert all(np.max(np.abs(a)) < 1e-300 for a in f(W))
            return
        for a, b in zip(f(W), core, strict=True):
            # mu_i = W_i W_i^* - W_{i+1}^* W_{i+1} cancels: its rounding is relative to max ||W_i||^2
            size = max(float(np.max(np.abs(w))) for w in W) ** 2 * max(widths)
            scale = max(float(np.max(np.abs(b))), size, np.finfo(float).tiny)
            assert np.max(np.abs(a - b)) <= 1e-12 * scale

    check()
