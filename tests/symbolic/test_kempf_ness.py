"""Kempf–Ness conditions: count, provenance, and agreement with mu at numeric points."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import dln_git as dg
from dln_git.symbolic.kempf_ness import (
    ConditionLabel,
    KempfNessConditions,
    expected_condition_count,
    kempf_ness_conditions,
)
from dln_git.symbolic.matrices import substitution, symbolic_weights

WIDTHS = [(1, 1), (3, 2), (2, 2, 2), (3, 2, 1), (1, 2, 3), (2, 4, 2), (2, 3, 3, 2)]


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("is_complex", [False, True])
def test_count_is_number_of_independent_real_equations(widths, is_complex):
    conds = kempf_ness_conditions(widths, complex=is_complex)
    hidden = widths[1:-1]
    expected = sum(d * d for d in hidden) if is_complex else sum(d * (d + 1) // 2 for d in hidden)
    assert len(conds) == expected == expected_condition_count(widths, complex=is_complex)
    assert isinstance(conds, list) and isinstance(conds, KempfNessConditions)
    assert len(conds.labels) == len(conds)
    assert len(set(conds.labels)) == len(conds)  # no duplicates
    assert len(set(conds)) == len(conds)
    for e in conds:
        assert isinstance(e, sympy.Expr)
        assert not e.has(sympy.I)  # real equations
        assert e != 0
    for lab in conds.labels:
        assert lab.row <= lab.col
        assert lab.part in ("re", "im")
        if not is_complex or lab.row == lab.col:
            assert lab.part == "re"


def test_depth_one_has_no_conditions():
    conds = kempf_ness_conditions((3, 5), complex=True)
    assert conds == [] and conds.labels == ()


@pytest.mark.parametrize("is_complex", [False, True])
def test_conditions_are_the_entries_of_mu(is_complex):
    widths = (2, 3, 3, 2)
    conds = kempf_ness_conditions(widths, complex=is_complex)
    W_sym = symbolic_weights(widths, complex=is_complex)
    W = dg.random_weights(widths, 3, complex=is_complex)
    subs = substitution(W_sym, W)
    mu = dg.moment_map(W)
    for lab, e in conds.labelled():
        v = float(e.xreplace(subs))
        entry = mu[lab.layer - 1][lab.row, lab.col]
        ref = entry.real if lab.part == "re" else entry.imag
        assert abs(v - ref) <= 1e-12 * (1 + abs(ref))


@pytest.mark.parametrize("is_complex", [False, True])
def test_conditions_vanish_exactly_on_balanced_points_only(is_complex):
    widths = (2, 3, 2)
    conds = kempf_ness_conditions(widths, complex=is_complex)
    W_sym = symbolic_weights(widths, complex=is_complex)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 2)) + (1j * rng.standard_normal((2, 2)) if is_complex else 0)
    balanced = dg.balanced_from_end_to_end(X, widths, rng)
    vals = [float(e.xreplace(substitution(W_sym, balanced))) for e in conds]
    assert max(abs(v) for v in vals) < 1e-12
    vals = [float(e.xreplace(substitution(W_sym, dg.random_weights(widths, 1, complex=is_complex)))) for e in conds]
    assert max(abs(v) for v in vals) > 1e-3


def test_labels_and_repr():
    conds = kempf_ness_conditions((1, 2, 1), complex=True)
    assert conds.labels == (
        ConditionLabel(1, 0, 0, "re"),
        ConditionLabel(1, 0, 1, "re"),
        ConditionLabel(1, 0, 1, "im"),
        ConditionLabel(1, 1, 1, "re"),
    )
    assert str(conds.labels[2]) == "im(mu_1[0, 1])"
    assert "4 equations" in repr(conds)
    x = {s.name: s for e in conds for s in e.free_symbols}
    # Re mu_1[0, 0] = |W_1[0, 0]|^2 - |W_2[0, 0]|^2
    assert (
        sympy.expand(conds[0] - (x["w1_0_0_re"] ** 2 + x["w1_0_0_im"] ** 2 - x["w2_0_0_re"] ** 2 - x["w2_0_0_im"] ** 2))
        == 0
    )
