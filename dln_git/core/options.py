"""Validation of options: one table of rules, one function, errors that name the argument.

Every public function of dln-git passes its scalar options (tolerances, iteration caps, step
sizes, method names, flags) through :func:`check_options` before doing any work::

    rtol, maxiter = check_options(rtol=rtol, maxiter=maxiter)

The rule for an option is looked up by its name in :data:`RULES`, so ``rtol`` means the same
thing, and is checked the same way, everywhere in the package. A function with an option that
has a meaning of its own passes the rule explicitly with :class:`Rule`::

    (method,) = check_options(method=(method, Rule.choice("newton", "l2")))

Errors are ``TypeError`` (wrong kind: a string for a tolerance, a float for an iteration count,
a non-boolean flag) or ``ValueError`` (right kind, value out of range), and always start with the
option's name and the value received.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["RULES", "Rule", "check_option", "check_options"]


@dataclass(frozen=True)
class Rule:
    """What an option may be.

    ``kind`` is one of ``"real"``, ``"int"``, ``"bool"``, ``"choice"``. For numbers, ``low`` and
    ``high`` are bounds (``None``: unbounded), ``low_open``/``high_open`` say whether they are
    excluded; ``allow_none`` accepts ``None`` (meaning "use the default"). ``what`` is a short
    description used in the error message.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allow_none: bool = False
    choices: tuple = ()
    what: str = ""

    # --- constructors for the common shapes -------------------------------------------------
    @staticmethod
    def relative_tolerance(what: str = "a relative tolerance") -> Rule:
        """A real number in the open interval (0, 1)."""
        return Rule("real", 0.0, 1.0, True, True, what=what)

    @staticmethod
    def nonnegative(what: str = "", allow_none: bool = False) -> Rule:
        """A finite real number >= 0."""
        return Rule("real", 0.0, None, allow_none=allow_none, what=what)

    @staticmethod
    def positive(what: str = "", allow_none: bool = False, high: float | None = None) -> Rule:
        """A finite real number > 0 (and <= ``high`` if given)."""
        return Rule("real", 0.0, high, True, False, allow_none=allow_none, what=what)

    @staticmethod
    def count(low: int = 1, what: str = "", allow_none: bool = False) -> Rule:
        """An integer >= ``low`` (booleans and floats are rejected)."""
        return Rule("int", low, None, allow_none=allow_none, what=what)

    @staticmethod
    def flag(what: str = "") -> Rule:
        """``True`` or ``False`` (numpy booleans accepted, 0/1 are not)."""
        return Rule("bool", what=what)

    @staticmethod
    def choice(*choices, what: str = "") -> Rule:
        """One of the given values (compared with ``==``)."""
        return Rule("choice", choices=tuple(choices), what=what)

    # --- checking ------------------------------------------------------------------------------
    def _range(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if (self.low_open or self.low is None) else "["
        right = ")" if (self.high_open or self.high is None) else "]"
        return f"{left}{lo}, {hi}{right}"

    def check(self, name: str, value):
        """Return ``value`` converted (float, int, bool) or raise naming ``name``."""
        if value is None:
            if self.allow_none:
                return None
            raise TypeError(f"{name} must not be None{self._about()}")
        if self.kind == "choice":
            if isinstance(value, str) or not isinstance(value, (list, dict, set)):
                for c in self.choices:
                    if type(value) is type(c) and value == c:
                        return value
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{name} = {value!r} is not one of {allowed}{self._about()}")
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise TypeError(f"{name} must be True or False, got {value!r}{self._about()}")
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a number, got the boolean {value!r}{self._about()}")
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, got {value!r}{self._about()}")
            value = int(value)
        else:
            if not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {value!r}{self._about()}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} = {value} is not finite{self._about()}")
        ok_low = self.low is None or (value > self.low if self.low_open else value >= self.low)
        ok_high = self.high is None or (value < self.high if self.high_open else value <= self.high)
        if not (ok_low and ok_high):
            raise ValueError(f"{name} = {value!r} is outside {self._range()}{self._about()}")
        return value

    def _about(self) -> str:
        return f" ({self.what})" if self.what else ""


_REL = Rule.relative_tolerance
#: The package-wide meaning of each option name. A function whose option of this name means
#: something else must pass its own :class:`Rule` instead.
RULES: dict[str, Rule] = {
    "rtol": _REL("a relative tolerance, in (0, 1)"),
    "tol": _REL("the requested ||mu|| / R, in (0, 1)"),
    "rank_rtol": _REL("the relative cut-off for a numerical rank, in (0, 1)"),
    "atol": Rule.nonnegative("an absolute tolerance, >= 0"),
    "energy_rtol": Rule("real", 0.0, 1.0, high_open=True,
                        what="a relative tolerance on the energy-norm error, in [0, 1) (0: not used)"),
    "maxiter": Rule.count(1, "an iteration cap", allow_none=True),
    "max_iter": Rule.count(1, "an iteration cap", allow_none=True),
    "max_steps": Rule.count(1, "a step cap"),
    "restarts": Rule.count(0, "a number of restarts"),
    "t_final": Rule.positive("the final time"),
    "s_final": Rule.positive("the final time in s = (1 - e^{-2t})/2", high=0.5),
    "step": Rule.positive("a time step", allow_none=True),
    "lr": Rule.positive("a learning rate"),
    "eps": Rule.positive("the time-scale ratio"),
    "lam": Rule.nonnegative("the weight of the regularizer"),
    "scale": Rule.positive("a scale factor"),
    "max_cond": Rule("real", 1.0, None, what="a condition-number cap, >= 1"),
    "min_step_ratio": _REL("the smallest step as a fraction of the time span, in (0, 1)"),
    "verify": Rule.flag("whether to check the result"),
    "complex": Rule.flag("complex weights"),
    "record_weights": Rule.flag("whether to keep the weights along the run"),
    "speeds": Rule.flag("whether to record the vertical/horizontal speeds"),
    "trivial_kernel": Rule.flag("whether the Gram operator is known to be injective"),
}


def check_option(name: str, value, rule: Rule | None = None):
    """Check one option against ``rule`` (default: ``RULES[name]``) and return it converted."""
    if rule is None:
        try:
            rule = RULES[name]
        except KeyError:
            raise KeyError(f"no validation rule for option {name!r}: add it to RULES") from None
    return rule.check(name, value)


def check_options(**options):
    """Check each keyword option and return the converted values as a tuple, in order.

    A value may be given as ``(value, Rule)`` to use a rule of its own instead of ``RULES``.
    With a single option the tuple has one element, so write ``(x,) = check_options(x=x)``.
    """
    out = []
    for name, value in options.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Rule):
            out.append(check_option(name, value[0], value[1]))
        else:
            out.append(check_option(name, value))
    return tuple(out)
