"""Identities and their report for :mod:`dln_git.symbolic.identities`: an identity ``lhs = rhs``
is proved when every entry of ``lhs - rhs`` expands to exactly 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sympy

from .matrices import _flat_entries, is_zero

__all__ = ["Identity", "IdentityReport", "prove_identity"]


class Identity(NamedTuple):
    """One symbolic identity ``lhs = rhs``: ``(name, statement, residual, proved)``.

    ``residual`` is ``lhs - rhs`` expanded (a sympy expression, an ImmutableMatrix, or a
    ``sympy.Tuple`` of them, one per layer); ``proved`` is whether it is exactly 0.
    """

    name: str
    statement: str
    residual: sympy.Basic
    proved: bool


@dataclass(frozen=True)
class IdentityReport:
    """The outcome of :func:`prove_identities`.

    Attributes
    ----------
    widths : tuple of int
    complex : bool
    identities : tuple of Identity
        ``(name, statement, residual, proved)`` for each identity.
    seconds : float
        Wall time of the whole proof.
    """

    widths: tuple[int, ...]
    complex: bool
    identities: tuple[Identity, ...]
    seconds: float

    @property
    def all_proved(self) -> bool:
        """Whether every residual expanded to exactly 0."""
        return all(i.proved for i in self.identities)

    def __getitem__(self, name: str) -> Identity:
        for ident in self.identities:
            if ident.name == name:
                return ident
        raise KeyError(name)

    def __str__(self) -> str:
        kind = "complex" if self.complex else "real"
        n_ok = sum(i.proved for i in self.identities)
        lines = [
            f"Symbolic identities, widths {self.widths}, {kind} weights: "
            f"{n_ok}/{len(self.identities)} proved in {self.seconds:.2f} s"
        ]
        for ident in self.identities:
            mark = "proved" if ident.proved else "NOT PROVED"
            lines.append(f"  [{mark}] {ident.name}: {ident.statement}")
            if not ident.proved:
                lines.append(f"      first nonzero residual entry: {_first_nonzero(ident.residual)}")
        return "\n".join(lines)


def _first_nonzero(residual) -> sympy.Basic | None:
    for e in _flat_entries(residual):
        if sympy.expand(e) != 0:
            return e
    return None


def _expanded(obj) -> sympy.Basic:
    """``obj`` expanded, as an immutable sympy object (Expr, ImmutableMatrix or Tuple)."""
    if isinstance(obj, sympy.MatrixBase):
        return sympy.ImmutableMatrix(obj.applyfunc(sympy.expand))
    if isinstance(obj, (tuple, list, sympy.Tuple)):
        return sympy.Tuple(*(_expanded(o) for o in obj))
    return sympy.expand(sympy.sympify(obj))


def _difference(lhs, rhs):
    if isinstance(lhs, (tuple, list, sympy.Tuple)):
        if not isinstance(rhs, (tuple, list, sympy.Tuple)) or len(lhs) != len(rhs):
            raise ValueError("lhs and rhs must have the same structure")
        return tuple(_difference(a, b) for a, b in zip(lhs, rhs, strict=True))
    if isinstance(lhs, sympy.MatrixBase) and isinstance(rhs, sympy.MatrixBase) and lhs.shape != rhs.shape:
        raise ValueError(f"shapes {lhs.shape} and {rhs.shape} differ")
    return lhs - rhs


def prove_identity(name: str, statement: str, lhs, rhs=0) -> Identity:
    """Check ``lhs = rhs`` exactly: proved iff every entry of ``lhs - rhs`` expands to 0.

    ``lhs`` and ``rhs`` are sympy expressions, matrices, or (nested) tuples of them with the same
    structure (``rhs = 0`` is allowed for any ``lhs``). This is the checker behind
    :func:`prove_identities`; it fails on a false identity (e.g. a sign flipped), as the tests show.
    """
    scalar_zero = not isinstance(rhs, (tuple, list, sympy.Tuple, sympy.MatrixBase)) and sympy.sympify(rhs) == 0
    diff = lhs if scalar_zero else _difference(lhs, rhs)
    residual = _expanded(diff)
    return Identity(name, statement, residual, is_zero(residual))


def _prove_poly(name: str, statement: str, lhs, rhs=None) -> Identity:
    """:func:`prove_identity` on the exact backend: ``lhs``/``rhs`` are PolyElements or tuples of
    PolyMatrix; a polynomial is zero iff it has no terms (canonical form)."""
    if isinstance(lhs, tuple):
        diff = lhs if rhs is None else tuple(a - b for a, b in zip(lhs, rhs, strict=True))
        proved = all(M.is_zero_matrix() for M in diff)
        residual = sympy.Tuple(*(M.to_sympy() for M in diff))
    else:
        diff = lhs if rhs is None else lhs - rhs
        proved = not diff
        residual = diff.as_expr()
    return Identity(name, statement, residual, proved)
