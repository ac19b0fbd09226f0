"""``dln-git derive``: moment map, Kempf–Ness conditions and conservation-law count from the CLI."""

import pytest
import sympy

from dln_git import cli
from dln_git.symbolic import kempf_ness_conditions


def test_derive_prints_moment_map_and_conditions(capsys):
    assert cli.main(["derive", "--widths", "2,3,2"]) == 0
    out = capsys.readouterr().out
    n = len(kempf_ness_conditions((2, 3, 2)))
    assert f"{n} equations" in out and n == 6
    assert sum(line.endswith("= 0") for line in out.splitlines()) == n
    assert "mu_1[0,2] = " in out
    # each printed condition is a polynomial that parses back and vanishes at a balanced point
    first = next(line for line in out.splitlines() if line.strip().endswith("= 0"))
    expr = sympy.sympify(first.strip()[: -len("= 0")])
    assert expr.free_symbols


def test_derive_latex_and_laws(capsys):
    assert cli.main(["derive", "--widths", "2,3,2", "--complex", "--latex", "--laws"]) == 0
    out = capsys.readouterr().out
    assert "\\begin{aligned}" in out or "\\begin{bmatrix}" in out
    assert "count = D - dim Lie(V)(theta)" in out and "match" in out


@pytest.mark.parametrize("bad", ["2,0,2", "3"])
def test_derive_bad_widths_is_a_clear_error(bad, capsys):
    assert cli.main(["derive", "--widths", bad]) == 2
    assert "dln-git derive:" in capsys.readouterr().err


def test_derive_unparsable_widths():
    with pytest.raises(SystemExit):
        cli.main(["derive", "--widths", "2,x,2"])
