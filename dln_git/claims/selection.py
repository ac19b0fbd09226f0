"""Which claims ``dln-git verify`` runs: claim ids and :mod:`fnmatch` globs on ids.

``patterns`` are claim ids or globs (``"flows.*"``, ``"*rate*"``); the selected claims run in
registration order. A pattern that matches nothing is an error naming the known ids
(:class:`UnknownClaimError`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from .registry import Claim, all_claims

__all__ = ["UnknownClaimError", "is_glob", "select_claims"]


class UnknownClaimError(KeyError):
    """A claim id or pattern matches no registered claim (the message names the known ids)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` is a glob (has ``*``, ``?`` or ``[``) rather than a plain claim id."""
    return any(ch in pattern for ch in "*?[")


def select_claims(patterns: str | Iterable[str] | None = None) -> list[Claim]:
    """The registered claims matching any of ``patterns``, in registration order.

    Parameters
    ----------
    patterns : str or iterable of str, optional
        Claim ids or :func:`fnmatch.fnmatchcase` globs on ids (``"flows.*"``, ``"*rate*"``).
        ``None`` selects every claim.

    Raises
    ------
    UnknownClaimError
        If a pattern matches no claim; the message lists the known ids.
    ValueError
        If ``patterns`` is an empty collection.
    """
    claims = all_claims()
    if patterns is None:
        return claims
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    if not patterns:
        raise ValueError("patterns is empty; pass None to select every claim")
    chosen: set[str] = set()
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"a claim pattern must be a str, got {type(pattern).__name__}")
        hits = {c.id for c in claims if fnmatch.fnmatchcase(c.id, pattern)}
        if not hits:
            what = f"pattern {pattern!r} matches no claim" if is_glob(pattern) else f"unknown claim {pattern!r}"
            raise UnknownClaimError(f"{what}; known claims: {', '.join(sorted(c.id for c in claims))}")
        chosen |= hits
    return [c for c in claims if c.id in chosen]
