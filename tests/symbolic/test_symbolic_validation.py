"""Bad input is refused before any symbolic work, with an error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from dln_git.symbolic.identities import prove_identities
from dln_git.symbolic.kempf_ness import kempf_ness_conditions
from dln_git.symbolic.lambdify import lambdify_moment_map
from dln_git.symbolic.matrices import symbolic_end_to_end, symbolic_lie_algebra, symbolic_weights
from dln_git.symbolic.moment_map import derive_moment_map

FUNCS = [
    symbolic_weights,
    symbolic_lie_algebra,
    derive_moment_map,
    kempf_ness_conditions,
    prove_identities,
    lambdify_moment_map,
]

BAD_WIDTHS = [
    ((2, 0, 2), ValueError),  # zero width
    ((2, -1), ValueError),  # negative width
    ((3,), ValueError),  # depth 0
    ((), ValueError),
    ((2, 2.0, 2), TypeError),  # non-integer
    ((2, True), TypeError),  # bool is not a width
    ("222", TypeError),
    (3, TypeError),
]


def _fast(f, *args, **kw):
    """Call ``f``; the budgets are checked before any work, so a refusal returns at once (the tests
    assert on the error, not on the time: no wall-clock limits)."""
    return f(*args, **kw)


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("widths", "exc"), BAD_WIDTHS, ids=repr)
def test_bad_widths(func, widths, exc):
    with pytest.raises(exc):
        _fast(func, widths)


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_too_many_symbols_refused_fast(func):
    widths = (30, 30, 30, 30, 30)  # 3600 weight symbols: would take minutes to hours
    with pytest.raises(ValueError, match=r"needs \d+ real symbols, more than max_symbols = 400"):
        _fast(func, widths)


def test_budget_names_count_and_limit():
    with pytest.raises(ValueError, match="needs 400 real symbols, more than max_symbols = 399"):
        symbolic_weights((10, 20, 10), max_symbols=399)
    with pytest.raises(ValueError, match="needs 800 real symbols"):
        symbolic_weights((10, 20, 10), complex=True)
    # derive counts W and xi together: for (2, 2, 1), 2*2 + 1*2 weight symbols and 2*2 for xi
    with pytest.raises(ValueError, match="needs 10 real symbols, more than max_symbols = 9"):
        derive_moment_map((2, 2, 1), max_symbols=9)
    assert len(derive_moment_map((2, 2, 1), max_symbols=10)) == 1


def test_budget_is_configurable_upwards():
    W = symbolic_weights((21, 20), max_symbols=420)
    assert W[0].shape == (20, 21)


@pytest.mark.parametrize(
    ("kw", "exc"),
    [
        ({"complex": "yes"}, TypeError),
        ({"complex": 1}, TypeError),
        ({"max_symbols": 0}, ValueError),
        ({"max_symbols": 10.0}, TypeError),
        ({"max_symbols": True}, TypeError),
    ],
)
def test_bad_keywords(kw, exc):
    for func in FUNCS:
        with pytest.raises(exc):
            _fast(func, (2, 2, 2), **kw)


@pytest.mark.parametrize(("prefix", "exc"), [("w1", ValueError), ("", ValueError), ("w_", ValueError), (3, TypeError)])
def test_bad_prefix(prefix, exc):
    with pytest.raises(exc):
        symbolic_weights((2, 2), prefix=prefix)


def test_end_to_end_validates():
    W = symbolic_weights((2, 3, 2))
    with pytest.raises(ValueError, match="columns"):
        symbolic_end_to_end((W[1], W[1]))
    with pytest.raises(TypeError):
        symbolic_end_to_end(W[0])
    with pytest.raises(TypeError):
        symbolic_end_to_end((np.eye(2),))
    with pytest.raises(ValueError):
        symbolic_end_to_end(())


def test_lambdified_function_validates_its_input():
    f = lambdify_moment_map((2, 3, 2))
    with pytest.raises(ValueError, match="shape"):
        f((np.ones((3, 2)), np.ones((3, 3))))
    with pytest.raises(ValueError, match="layers"):
        f((np.ones((3, 2)),))
    with pytest.raises(TypeError, match="complex=True"):
        f((np.ones((3, 2)) * 1j, np.ones((2, 3))))
    with pytest.raises(ValueError, match="NaN"):
        f((np.full((3, 2), np.nan), np.ones((2, 3))))
