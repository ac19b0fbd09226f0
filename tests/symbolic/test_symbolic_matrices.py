"""Symbolic matrices: naming, parsing, counts, the numeric bridge, the exact polynomial backend."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import dln_git as dg
from dln_git.symbolic.matrices import (
    DEFAULT_MAX_SYMBOLS,
    PolyAlgebra,
    evaluate,
    is_zero,
    lie_algebra_symbol_count,
    matrix_symbols,
    parse_symbol_name,
    substitution,
    symbol_name,
    symbolic_end_to_end,
    symbolic_lie_algebra,
    symbolic_weights,
    weight_symbol_count,
)


def test_real_weights_shapes_and_names():
    W = symbolic_weights((3, 2, 4))
    assert [M.shape for M in W] == [(2, 3), (4, 2)]
    assert all(isinstance(M, sympy.MutableDenseMatrix) for M in W)
    assert W[0][1, 2] == sympy.Symbol("w1_1_2", real=True)
    assert W[1][3, 0].name == "w2_3_0"
    syms = matrix_symbols(W)
    assert len(syms) == len(set(syms)) == weight_symbol_count((3, 2, 4)) == 2 * 3 + 4 * 2
    assert all(s.is_real for s in syms)


def test_complex_entries_are_real_and_imaginary_parts():
    W = symbolic_weights((2, 1), complex=True)
    assert W[0].shape == (1, 2)
    x, y = sympy.Symbol("w1_0_1_re", real=True), sympy.Symbol("w1_0_1_im", real=True)
    assert W[0][0, 1] == x + sympy.I * y
    # conjugation is exact because the parts are real symbols
    assert sympy.conjugate(W[0][0, 1]) == x - sympy.I * y
    assert sympy.expand(W[0][0, 1] * sympy.conjugate(W[0][0, 1])) == x**2 + y**2
    assert matrix_symbols(W) == [
        sympy.Symbol("w1_0_0_re", real=True),
        sympy.Symbol("w1_0_0_im", real=True),
        x,
        y,
    ]
    assert weight_symbol_count((2, 1), complex=True) == 4


def test_lie_algebra():
    xi = symbolic_lie_algebra((2, 3, 1, 2))
    assert [m.shape for m in xi] == [(3, 3), (1, 1)]
    assert xi[0][2, 1].name == "xi1_2_1"
    assert symbolic_lie_algebra((2, 5)) == ()
    assert lie_algebra_symbol_count((2, 3, 1, 2)) == 10
    assert lie_algebra_symbol_count((2, 3, 1, 2), complex=True) == 20


def test_prefix_and_parsing():
    V = symbolic_weights((1, 2), prefix="dw", complex=True)
    assert V[0][1, 0].as_real_imag()[0].name == "dw1_1_0_re"
    assert parse_symbol_name("w12_3_10") == ("w", 12, 3, 10, None)
    assert parse_symbol_name(sympy.Symbol("xi2_0_1_im")) == ("xi", 2, 0, 1, "im")
    assert parse_symbol_name("t") is None
    assert parse_symbol_name("dE_0") is None
    for args in [("w", 1, 0, 2, None), ("dw", 3, 11, 0, "re")]:
        assert parse_symbol_name(symbol_name(*args)) == args


def test_end_to_end_matches_numeric():
    widths = (3, 2, 4)
    W = symbolic_weights(widths)
    X = symbolic_end_to_end(W)
    assert X.shape == (4, 3)
    Wn = dg.random_weights(widths, 0)
    (Xn,) = evaluate([X], substitution(W, Wn))
    np.testing.assert_allclose(Xn, dg.end_to_end(Wn), atol=1e-14)


def test_substitution_round_trip_complex():
    widths = (2, 3)
    W = symbolic_weights(widths, complex=True)
    Wn = dg.random_weights(widths, 1, complex=True)
    (back,) = evaluate(W, substitution(W, Wn))
    np.testing.assert_array_equal(back, Wn[0])
    # real numbers into a complex symbolic matrix are allowed; complex into real is refused
    Wr = dg.random_weights(widths, 2)
    assert evaluate(W, substitution(W, Wr))[0].dtype == np.float64
    with pytest.raises(ValueError, match="complex=True"):
        substitution(symbolic_weights(widths), Wn)
    with pytest.raises(ValueError, match="shape"):
        substitution(W, (np.zeros((2, 2)),))
    with pytest.raises(ValueError, match="no value"):
        evaluate(W, {})


def test_is_zero():
    x, y = sympy.symbols("x y", real=True)
    assert is_zero((x + y) ** 2 - x**2 - 2 * x * y - y**2)
    assert not is_zero([sympy.Matrix([[0, x]])])
    assert is_zero((sympy.zeros(2), sympy.Integer(0)))


def test_poly_backend_agrees_with_expand():
    x, y, t = sympy.symbols("x y t", real=True)
    alg = PolyAlgebra([x, y, t])
    e = (x + sympy.I * y) * (x - 2 * t * y) ** 2 + sympy.Rational(1, 3) * t**3
    p = alg.poly(e)
    assert sympy.expand(p.as_expr() - e) == 0
    assert sympy.expand(alg.conj(p).as_expr() - sympy.conjugate(e)) == 0
    assert sympy.expand(alg.re(p).as_expr() - sympy.re(sympy.expand(e))) == 0
    assert (
        sympy.expand(alg.truncate(p, t, 1).as_expr() - sympy.expand(e).coeff(t, 0) - t * sympy.expand(e).coeff(t, 1))
        == 0
    )
    q = alg.poly(x - t + t**2 * y)
    assert alg.mul_truncated(p, q, t, 2) == alg.truncate(p * q, t, 2)
    assert alg.diff(p, t).as_expr() == sympy.expand(sympy.diff(e, t))
    M = alg.matrix(sympy.Matrix([[x, sympy.I * y], [t, 1]]))
    assert sympy.Matrix((M * M.H).to_sympy()) == (
        sympy.Matrix([[x, sympy.I * y], [t, 1]]) * sympy.Matrix([[x, sympy.I * y], [t, 1]]).H
    ).applyfunc(sympy.expand)
    with pytest.raises(ValueError, match="real"):
        PolyAlgebra([sympy.Symbol("z")])


def test_default_budget_is_a_module_constant():
    assert DEFAULT_MAX_SYMBOLS == 400
    # (10, 20, 10) needs 400 real symbols: exactly at the limit is allowed
    assert len(matrix_symbols(symbolic_weights((10, 20, 10)))) == 400
