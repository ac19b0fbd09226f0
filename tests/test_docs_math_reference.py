"""The mathematical reference (docs/math/*.md) names every registered claim next to its formula.

Plain text parsing, no Sphinx. A claim is mentioned with the MyST role ``{claim}`ID``` in the
prose of the page of one of its sections (a claim registered for section "6.1" must be mentioned
under the heading "6.1"; one registered for "1-3" on page 1, 2 or 3); every mentioned id must be
registered; every numbered section with claims ends with its ``claims-table``; and every API
cross-reference (``{func}``, ``{class}``, ``{meth}``, ``{mod}``) names an object that exists where
the API reference documents it (the module that defines it).
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

from dln_git.claims import all_claims

ROOT = Path(__file__).resolve().parents[1]
MATH = ROOT / "docs" / "math"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
from claim_sections import claim_sections  # noqa: E402

PAGES = {"1": "1-objects.md", "2": "2-git.md", "3": "3-flows.md", "4": "4-training.md",
         "5": "5-systems.md", "6": "6-related.md"}
HEADING = re.compile(r"^(#{1,6})\s+(\d+(?:\.\d+)?)\.?\s")
CLAIM_ROLE = re.compile(r"\{claim\}`([^`]+)`")
TABLE = re.compile(r"^```\{claims-table\}\s+(\S+)\s*$")
API_ROLE = re.compile(r"\{(func|class|meth|mod)\}`~?([\w.]+)`")


def _sections_of_lines(text: str):
    """Yield ``(section, line)``: the innermost numbered heading above each line."""
    section = None
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = HEADING.match(line)
        if m and not fence:
            section = m.group(2)
        yield section, line


def _mentions():
    """``{claim id: set of sections where the prose mentions it}`` over every page."""
    found: dict[str, set[str]] = {}
    for path in sorted(MATH.glob("*.md")):
        for section, line in _sections_of_lines(path.read_text(encoding="utf-8")):
            for claim_id in CLAIM_ROLE.findall(line):
                found.setdefault(claim_id, set()).add(section or "index")
    return found


def test_pages_exist_with_math_md_numbering():
    for number, name in PAGES.items():
        path = MATH / name
        assert path.is_file(), f"missing page docs/math/{name}"
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"# {number}. "), f"{name} must open with '# {number}. ...', got {first!r}"
    related = (MATH / PAGES["6"]).read_text(encoding="utf-8")
    for sub in ("6.1", "6.2", "6.3", "6.4"):
        assert re.search(rf"^## {re.escape(sub)} ", related, re.M), f"section {sub} heading missing"


def test_every_registered_claim_is_mentioned_next_to_its_formula():
    mentions = _mentions()
    missing = []
    for claim in all_claims():
        wanted = claim_sections(claim.section)
        if not mentions.get(claim.id, set()) & wanted:
            missing.append(f"{claim.id} (section {claim.section}; mentioned in {sorted(mentions.get(claim.id, []))})")
    assert not missing, "claims not mentioned in the prose of their section:\n  " + "\n  ".join(missing)


def test_every_mentioned_claim_is_registered():
    registered = {c.id for c in all_claims()}
    unknown = sorted(set(_mentions()) - registered)
    assert not unknown, f"docs/math mentions ids that are not registered claims: {unknown}"


def test_every_section_with_claims_has_its_table():
    tables = set()
    for path in MATH.glob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = TABLE.match(line)
            if m and m.group(1) != "all":  # "all" is the index of every claim
                tables.add(m.group(1))
    needed = set().union(*(claim_sections(c.section) for c in all_claims()))
    assert needed <= tables, f"sections without a claims-table: {sorted(needed - tables)}"
    assert tables <= needed, f"claims-table for sections without claims: {sorted(tables - needed)}"


def _api_targets():
    for path in sorted(MATH.glob("*.md")) + sorted((ROOT / "docs" / "guide").glob("*.md")):
        for role, target in API_ROLE.findall(path.read_text(encoding="utf-8")):
            if target.split(".")[0] == "dln_git":  # others (the standard library) render as code
                yield path.name, role, target


@pytest.mark.parametrize("page, role, target", sorted(set(_api_targets())))
def test_api_cross_references_exist_where_documented(page, role, target):
    if role == "mod":
        importlib.import_module(target)
        return
    parts = target.split(".")
    if role == "meth":
        owner_path, attr = ".".join(parts[:-1]), parts[-1]
        modname, clsname = ".".join(parts[:-2]), parts[-2]
        cls = getattr(importlib.import_module(modname), clsname)
        assert cls.__module__ == modname, f"{page}: {owner_path} is documented in {cls.__module__}"
        assert hasattr(cls, attr), f"{page}: {target} does not exist"
        return
    modname, name = ".".join(parts[:-1]), parts[-1]
    module = importlib.import_module(modname)
    assert inspect.ismodule(module), f"{page}: {modname} is not a module"
    obj = getattr(module, name, None)
    assert obj is not None, f"{page}: {target} does not exist"
    assert obj.__module__ == modname, (
        f"{page}: {target} is defined in {obj.__module__}, where the API reference documents it"
    )
    # the API pages (docs/_ext/api_pages.py) document what __all__ declares, and only with a docstring
    assert name in getattr(module, "__all__", [name]), f"{page}: {target} is not in {modname}.__all__"
    assert (obj.__doc__ or "").strip(), f"{page}: {target} has no docstring, so the API reference skips it"
