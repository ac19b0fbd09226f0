"""Which sections of the mathematical reference a claim's section field names.

Shared by the Sphinx extension ``claims_table`` and ``tests/test_docs_math_reference.py`` (which
must not need Sphinx). A field is one section ("5", "6.1"), a range ("1-3") or a list ("1, 6.1").
"""

from __future__ import annotations


def claim_sections(field: str) -> set[str]:
    """The sections a claim's section field names: "5" -> {"5"}, "1-3" -> {"1", "2", "3"},
    "1, 6.1" -> {"1", "6.1"}."""
    out: set[str] = set()
    for part in field.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(p) for p in part.split("-"))
            out.update(str(k) for k in range(lo, hi + 1))
        elif part:
            out.add(part)
    return out
