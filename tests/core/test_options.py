"""The one table of option rules: every rule rejects what it should, naming the option."""

import numpy as np
import pytest

from dln_git.core.options import RULES, Rule, check_option, check_options


@pytest.mark.parametrize("bad", [0.0, 1.0, 2.0, -1.0, float("nan"), float("inf")])
def test_relative_tolerances_reject_outside_open_unit_interval(bad):
    for name in ("rtol", "tol", "rank_rtol"):
        with pytest.raises(ValueError, match=name):
            check_option(name, bad)


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_rejects_a_string_naming_the_option(name):
    with pytest.raises((TypeError, ValueError), match=name):
        check_option(name, "1e-3")


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if r.kind in ("real", "int")))
def test_numeric_rules_reject_booleans(name):
    with pytest.raises(TypeError, match=name):
        check_option(name, True)


def test_counts_reject_floats_and_small_values():
    with pytest.raises(TypeError, match="maxiter"):
        check_option("maxiter", 10.0)
    with pytest.raises(ValueError, match="max_steps"):
        check_option("max_steps", 0)
    assert check_option("maxiter", None) is None
    assert check_option("max_iter", np.int64(3)) == 3


def test_flags_accept_only_booleans():
    assert check_option("verify", np.True_) is True
    with pytest.raises(TypeError, match="verify"):
        check_option("verify", 1)


def test_choice_and_own_rules():
    rule = Rule.choice("newton", "l2")
    assert check_options(method=("l2", rule)) == ("l2",)
    with pytest.raises(ValueError, match="method = 'svd2'"):
        check_options(method=("svd2", rule))
    with pytest.raises(KeyError, match="no validation rule"):
        check_option("not_an_option", 1)


def test_values_are_converted_and_in_order():
    rtol, atol, n = check_options(rtol=np.float32(1e-3), atol=0, maxiter=np.int32(4))
    assert (type(rtol), type(atol), type(n)) == (float, float, int)
    assert atol == 0.0 and n == 4


def test_s_final_closed_at_one_half():
    assert check_option("s_final", 0.5) == 0.5
    with pytest.raises(ValueError, match="s_final"):
        check_option("s_final", 0.51)
