"""Kempf–Ness conditions: the polynomial equations of the balanced variety ``mu = 0``.

docs/math sections 1-2: ``M_0 = {W : mu_i(W) = W_i W_i^* - W_{i+1}^* W_{i+1} = 0, i = 1..N-1}``; on a
closed orbit R is minimal exactly there (Kempf–Ness). Each ``mu_i`` is Hermitian, so its lower
triangle repeats the upper one (conjugated): only the upper triangle is kept, giving
``d_i (d_i + 1) / 2`` real equations per hidden layer for real weights and ``d_i^2`` for complex
ones (the real parts of the diagonal, which is real, and the real and imaginary parts of the
strict upper triangle).
"""

from __future__ import annotations

from typing import NamedTuple

import sympy

from dln_git.core.validation import as_widths

from .matrices import DEFAULT_MAX_SYMBOLS
from .moment_map import _check_derive_args, _derive_poly

__all__ = ["ConditionLabel", "KempfNessConditions", "expected_condition_count", "kempf_ness_conditions"]


class ConditionLabel(NamedTuple):
    """Where a condition comes from: ``part`` of ``mu_layer[row, col]``.

    ``layer`` is the 1-based hidden layer i of ``mu_i``; ``row <= col`` are 0-based; ``part`` is
    ``"re"`` or ``"im"`` (always ``"re"`` for real weights, whose mu is real).
    """

    layer: int
    row: int
    col: int
    part: str

    def __str__(self) -> str:
        return f"{self.part}(mu_{self.layer}[{self.row}, {self.col}])"


class KempfNessConditions(list):
    """A list of sympy expressions, each meaning ``expression = 0``, with provenance.

    Behaves as a plain ``list`` of expressions (treat it as read-only: the labels are not kept in
    step with mutations). Extra attributes: ``labels`` (a tuple of :class:`ConditionLabel`, one per
    expression), ``widths`` and ``complex``; :meth:`labelled` pairs them up.
    """

    def __init__(self, equations, labels, widths: tuple[int, ...], complex: bool):
        super().__init__(equations)
        self.labels: tuple[ConditionLabel, ...] = tuple(labels)
        if len(self.labels) != len(self):
            raise ValueError("one label per equation is required")
        self.widths = tuple(widths)
        self.complex = bool(complex)

    def labelled(self) -> list[tuple[ConditionLabel, sympy.Expr]]:
        """``[(label, expression), ...]``."""
        return list(zip(self.labels, self, strict=True))

    def __repr__(self) -> str:
        kind = "complex" if self.complex else "real"
        return f"KempfNessConditions(widths={self.widths}, {kind}, {len(self)} equations)"


def expected_condition_count(widths, *, complex: bool = False) -> int:
    """Number of independent real equations in ``mu = 0``: ``sum_i d_i (d_i + 1) / 2`` (real) or
    ``sum_i d_i^2`` (complex), over hidden layers i = 1..N-1 (the real dimension of the Hermitian
    matrices)."""
    widths = as_widths(widths)
    hidden = widths[1:-1]
    return sum(d * d for d in hidden) if complex else sum(d * (d + 1) // 2 for d in hidden)


def kempf_ness_conditions(widths, *, complex: bool = False, max_symbols: int = DEFAULT_MAX_SYMBOLS):
    """Polynomial equations of the balanced variety ``mu = 0``, duplicates removed.

    ``mu`` comes from :func:`dln_git.symbolic.derive_moment_map` (derived, not typed in). Its
    Hermitian symmetry ``mu_i[b, a] = conj(mu_i[a, b])`` is verified exactly (an error is raised if
    it failed), then only ``a <= b`` is kept: real weights give ``mu_i[a, b] = 0``; complex weights
    give ``Re mu_i[a, a] = 0`` (the imaginary part of the diagonal is verified to be identically 0)
    and ``Re mu_i[a, b] = 0``, ``Im mu_i[a, b] = 0`` for ``a < b``. docs/math sections 1-2.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    complex : bool
        Complex weights (entries ``x + I*y`` with real symbols).
    max_symbols : int
        Symbol budget, as in :func:`derive_moment_map`.

    Returns
    -------
    KempfNessConditions
        A list of expanded real polynomials (each meaning ``= 0``), layer by layer, row-major over
        the upper triangle, ``re`` before ``im``; ``.labels`` says which ``(layer, row, col, part)``
        each is. Its length is :func:`expected_condition_count`. Empty for depth 1.
    """
    widths, complex_ = _check_derive_args(widths, complex, max_symbols)
    alg, _, mus = _derive_poly(widths, complex_)
    equations: list[sympy.Expr] = []
    labels: list[ConditionLabel] = []
    for i, mu in enumerate(mus, start=1):
        d = mu.shape[0]
        for a in range(d):
            for b in range(a, d):
                if mu[b, a] != alg.conj(mu[a, b]):  # exact: canonical polynomials
                    raise RuntimeError(f"mu_{i} is not Hermitian at [{a}, {b}]: derivation broken")
                re_, im_ = alg.re(mu[a, b]), alg.im(mu[a, b])
                equations.append(re_.as_expr())
                labels.append(ConditionLabel(i, a, b, "re"))
                if a == b or not complex_:
                    if im_:
                        raise RuntimeError(f"mu_{i}[{a}, {b}] is not real: derivation broken")
                else:
                    equations.append(im_.as_expr())
                    labels.append(ConditionLabel(i, a, b, "im"))
    return KempfNessConditions(equations, labels, widths, complex_)
