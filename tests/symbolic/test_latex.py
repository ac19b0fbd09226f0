"""LaTeX output: readable names, aligned systems, matrices."""

from __future__ import annotations

import pytest
import sympy

from dln_git.symbolic.kempf_ness import kempf_ness_conditions
from dln_git.symbolic.latex import latex_symbol_names, symbolic_end_to_end, to_latex
from dln_git.symbolic.matrices import symbolic_lie_algebra, symbolic_weights
from dln_git.symbolic.moment_map import derive_moment_map


def _balanced_braces(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def test_moment_map_latex():
    s = to_latex(derive_moment_map((2, 2, 1, 2)))
    assert s.startswith("\\begin{aligned}") and s.rstrip().endswith("\\end{aligned}")
    assert "\\mu_{1} &= \\begin{bmatrix}" in s and "\\mu_{2} &=" in s
    assert "w^{(1)}_{11}" in s and "w^{(3)}_{21}" in s  # 1-based indices, layer superscript
    assert "\\left(w^{(1)}_{11}\\right)^{2}" in s  # powers of superscripted names are bracketed
    assert "w1_0_0" not in s
    assert _balanced_braces(s)


def test_conditions_latex_is_an_aligned_system():
    conds = kempf_ness_conditions((1, 2, 1), complex=True)
    s = to_latex(conds)
    assert s.startswith("\\begin{aligned}") and s.rstrip().endswith("\\end{aligned}")
    assert s.count("&= 0") == len(conds) == 4
    assert s.count("\\\\") == len(conds) - 1
    assert "\\operatorname{Re} w^{(1)}_{11}" in s and "\\operatorname{Im} w^{(2)}_{12}" in s
    assert _balanced_braces(s)


def test_end_to_end_latex():
    W = symbolic_weights((2, 2, 2))
    X = symbolic_end_to_end(W)
    assert sympy.expand(X[0, 1] - (W[1][0, 0] * W[0][0, 1] + W[1][0, 1] * W[0][1, 1])) == 0
    s = to_latex(X, name="X")
    assert s.startswith("X = \\begin{bmatrix}") and s.endswith("\\end{bmatrix}")
    assert "w^{(1)}_{12} w^{(2)}_{11}" in s
    assert to_latex(X).startswith("\\begin{bmatrix}")


def test_other_inputs():
    assert to_latex(()) == "\\mu = ()"
    assert to_latex([]) == "\\text{(no equations)}"
    xi = symbolic_lie_algebra((1, 2, 1))
    assert "\\xi^{(1)}_{21}" in to_latex(xi, name="\\xi")
    assert "\\xi_{1} &=" in to_latex(xi, name="\\xi")
    x = sympy.Symbol("w1_9_10", real=True)
    assert to_latex(x**2 + 1) == "\\left(w^{(1)}_{10,11}\\right)^{2} + 1"  # comma once an index reaches 10
    t = sympy.Symbol("t")
    assert to_latex(t * x) == "t w^{(1)}_{10,11}"
    assert latex_symbol_names(t) == {}


def test_bad_inputs():
    with pytest.raises(TypeError):
        to_latex("mu")
    with pytest.raises(TypeError):
        to_latex(("a",))
    with pytest.raises(TypeError):
        to_latex(["x = 0"])
    with pytest.raises(TypeError):
        to_latex(sympy.eye(2), name=3)
