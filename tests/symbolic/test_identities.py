"""Symbolic proofs: all identities proved on several widths; the checker can fail."""

from __future__ import annotations

import dataclasses

import pytest
import sympy

from dln_git.symbolic.identities import (
    Identity,
    IdentityReport,
    directional_derivative,
    prove_identities,
    prove_identity,
)
from dln_git.symbolic.matrices import symbolic_lie_algebra, symbolic_weights
from dln_git.symbolic.moment_map import (
    derive_moment_map,
    moment_map_closed_form,
    symbolic_action_adjoint,
    symbolic_infinitesimal_action,
)

NAMES = [
    "end_to_end_invariance",
    "noether",
    "action_adjoint",
    "moment_map_is_A_star_W",
    "moment_map_hermitian",
    "moment_map_differential",
    "gram_operator",
    "l2_flow_rate",
    "kempf_ness_convexity",
]

REAL = [(1, 1), (2, 3), (2, 2, 2), (2, 3, 2), (1, 2, 3), (3, 2, 1), (2, 4, 2), (2, 2, 2, 2), (2, 3, 3, 2)]
COMPLEX = [(1, 2), (2, 2, 2), (1, 2, 3), (3, 2, 1), (1, 2, 1, 2)]


@pytest.mark.parametrize(("widths", "is_complex"), [(w, False) for w in REAL] + [(w, True) for w in COMPLEX], ids=repr)
def test_all_identities_proved(widths, is_complex):
    report = prove_identities(widths, complex=is_complex)
    assert isinstance(report, IdentityReport)
    assert [i.name for i in report.identities] == NAMES
    assert report.all_proved, str(report)
    for ident in report.identities:
        _name, statement, residual, proved = ident  # a plain tuple
        assert proved is True and isinstance(statement, str) and statement
        entries = [residual] if isinstance(residual, sympy.Expr) else [e for M in residual for e in M]
        assert all(e == 0 for e in entries)
    assert report.widths == widths and report.complex is is_complex


def test_report_is_frozen_and_readable():
    report = prove_identities((2, 2, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.widths = (1, 1)  # type: ignore[misc]
    s = str(report)
    assert "9/9 proved" in s and "[proved] noether" in s and "(2, 2, 2)" in s
    assert report["l2_flow_rate"].proved
    with pytest.raises(KeyError):
        report["nope"]


def test_negative_control_sign_flipped_moment_map_is_not_proved():
    widths = (2, 2, 2)
    W = symbolic_weights(widths)
    mu = derive_moment_map(widths)
    wrong = tuple(W[i] * W[i].T + W[i + 1].T * W[i + 1] for i in range(len(W) - 1))  # + instead of -
    bad = prove_identity("wrong_sign", "mu = W_i W_i^* + W_{i+1}^* W_{i+1}", mu, wrong)
    assert isinstance(bad, Identity) and bad.proved is False
    good = prove_identity("closed_form", "mu = W_i W_i^* - W_{i+1}^* W_{i+1}", mu, moment_map_closed_form(W))
    assert good.proved is True
    report = IdentityReport(widths, False, (good, bad), 0.0)
    assert not report.all_proved
    assert "NOT PROVED" in str(report) and "first nonzero residual entry" in str(report)


def test_negative_control_wrong_flow_rate_is_not_proved():
    """d mu along -A_W(xi) is -2 Herm(A^*A xi), not -Herm(A^*A xi): the checker sees the factor 2."""
    widths = (1, 2, 1)
    W = symbolic_weights(widths, complex=True)
    xi = symbolic_lie_algebra(widths, complex=True)
    mu = derive_moment_map(widths, complex=True)
    A = symbolic_infinitesimal_action(W, xi)
    dmu = directional_derivative(mu, W, tuple(-a for a in A))
    gram = symbolic_action_adjoint(W, A)
    herm = tuple((g + g.H) / 2 for g in gram)
    assert prove_identity("rate 2", "", dmu, tuple(-2 * h for h in herm)).proved
    assert not prove_identity("rate 1", "", dmu, tuple(-h for h in herm)).proved
    # and a non-Hermitian right-hand side (dropping Herm) is wrong too in general
    assert not prove_identity("no Herm", "", dmu, tuple(-2 * g for g in gram)).proved


def test_prove_identity_scalars_and_structure():
    x, y = sympy.symbols("x y", real=True)
    assert prove_identity("binomial", "", (x + y) ** 2, x**2 + 2 * x * y + y**2).proved
    assert not prove_identity("off", "", (x + y) ** 2, x**2 + y**2).proved
    with pytest.raises(ValueError):
        prove_identity("shape", "", (sympy.zeros(2),), (sympy.zeros(2), sympy.zeros(2)))


@pytest.mark.parametrize("is_complex", [False, True])
def test_gauge_identities_fail_for_a_non_gauge_direction(is_complex):
    """Identities 1 and 2 are not vacuous: along a generic dW (not a gauge direction) both fail."""
    from dln_git.symbolic import identities as ids
    from dln_git.symbolic.matrices import PolyAlgebra, matrix_symbols

    widths = (1, 2, 1)
    W_sym = symbolic_weights(widths, complex=is_complex)
    dW_sym = symbolic_weights(widths, complex=is_complex, prefix="dw")
    t = sympy.Symbol("t", real=True)
    dE = [sympy.Symbol(f"dE_{j}", real=True) for j in range(2 if is_complex else 1)]
    alg = PolyAlgebra([*matrix_symbols(W_sym), *matrix_symbols(dW_sym), t, *dE])
    W, dW = alg.matrices(W_sym), alg.matrices(dW_sym)
    assert not ids._end_to_end_invariance(alg, W, dW, t).proved
    assert not ids._noether(alg, W_sym, W, dW, is_complex, dE).proved
