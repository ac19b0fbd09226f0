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
    assert cli.main(["derive", "--widths", "2,3,2", "--latex", "--laws", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "\\begin{aligned}" in out or "\\begin{bmatrix}" in out
    assert "count = D - dim Lie(V)(theta)" in out and "match" in out


def test_derive_complex_latex_uses_conjugate_transposes(capsys):
    """--complex is honoured: the complex weights have imaginary parts, the real ones none."""
    assert cli.main(["derive", "--widths", "2,3,2", "--complex", "--latex"]) == 0
    complex_out = capsys.readouterr().out
    assert cli.main(["derive", "--widths", "2,3,2", "--latex"]) == 0
    real_out = capsys.readouterr().out
    assert "(complex)" in complex_out and "(real)" in real_out
    assert "operatorname{Im}" in complex_out and "operatorname{Im}" not in real_out


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        # --seed only seeds the count's random point
        (["--seed", "4"], "--seed"),
        (["--complex", "--seed", "4"], "--seed"),
    ],
)
def test_derive_refuses_flags_it_would_ignore(argv, flag, capsys):
    assert cli.main(["derive", "--widths", "2,3,2", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before printing anything
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"argument {flag}:" in lines[0] and "Traceback" not in captured.err


def test_derive_laws_honours_complex(capsys):
    # --laws --complex counts the laws of the complexified action (it used to count the real ones)
    from dln_git.symbolic import count_conservation_laws

    assert cli.main(["derive", "--widths", "2,3,2", "--laws", "--complex", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    complex_count = count_conservation_laws((2, 3, 2), "linear", rng=1, complex=True)
    real_count = count_conservation_laws((2, 3, 2), "linear", rng=1)
    assert complex_count.count != real_count.count
    assert str(complex_count) in out and str(real_count) not in out


@pytest.mark.parametrize("bad", ["2,0,2", "3"])
def test_derive_bad_widths_is_a_clear_error(bad, capsys):
    assert cli.main(["derive", "--widths", bad]) == 2
    assert "dln-git derive:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--widths", "2,x,2"], ["--widths", "2,3,2", "--laws", "--seed", "-1"]])
def test_derive_unparsable_arguments_exit_2_naming_the_flag(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["derive", *argv])
    assert exit_info.value.code == 2
    flag = argv[-2]
    assert f"argument {flag}:" in capsys.readouterr().err
