"""Relative links in the README and in docs/ point to files that exist in a clone.

The README links into the documentation (``docs/math/3-flows.md``) and into the committed figures;
GitHub renders those paths and a clone has them, so a moved or renamed page must not leave a dead
link behind. Plain text parsing: Markdown links and images ``[text](path)`` and ``![alt](path)``
whose target is not a URL or an anchor, and MyST ``{figure}``/``{image}`` paths.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
DIRECTIVE = re.compile(r"^```\{(?:figure|image)\}\s+(\S+)", re.M)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _documents():
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("**/*.md"))


def _targets(path: Path):
    text = path.read_text(encoding="utf-8")
    yield from DIRECTIVE.findall(text)
    prose = FENCE.sub("", text)  # links inside code blocks are code
    for target in LINK.findall(prose):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        yield target.split("#", 1)[0]


CASES = sorted({(str(p.relative_to(ROOT)), t) for p in _documents() for t in _targets(p) if t})


def test_there_are_links_to_check():
    assert any(page == "README.md" and target.startswith("docs/math/") for page, target in CASES)


@pytest.mark.parametrize("page, target", CASES)
def test_relative_link_exists(page, target):
    resolved = (ROOT / page).parent / target
    assert resolved.exists(), f"{page} links to {target}, which does not exist ({resolved})"
