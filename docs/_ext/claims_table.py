"""Sphinx extension: the registered claims of a section of the mathematical reference.

Two pieces of markup, both fed by :func:`dln_git.claims.all_claims` at build time so that the
reference cannot go stale:

- the directive ``claims-table`` with one argument, a section number ("3", "6.1"), renders the
  table of every registered claim whose section field names that section (id, tag, statement),
  and gives each row an anchor; with the argument ``all`` it renders the index of every claim,
  each linked to its row;
- the role ``claim`` (``{claim}`flows.l2_rate``` in MyST) links to that row; an id that is not
  registered is a warning, hence an error under ``sphinx-build -W``.

A claim's section field may name several sections: "1-3" (a range) or "1, 6.1" (a list).
"""

from __future__ import annotations

import inspect
from typing import ClassVar

from claim_sections import claim_sections
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.addnodes import pending_xref
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)


def _claims():
    from dln_git.claims import all_claims

    return all_claims()


def _label(claim_id: str) -> str:
    return "claim-" + claim_id.lower()


class ClaimsTable(SphinxDirective):
    """``.. claims-table:: SECTION``: the registered claims of SECTION as a table."""

    required_arguments = 1
    has_content = False
    option_spec: ClassVar[dict] = {"class": directives.class_option}

    def run(self):
        section = self.arguments[0].strip()
        claims = _claims()
        rows = [c for c in claims if section in claim_sections(c.section)]
        # rebuild this page when any claims module changes (a claim may move into this section)
        for path in sorted({inspect.getsourcefile(c.check) for c in claims} - {None}):
            self.env.note_dependency(path)
        if section == "all":
            return self._index(claims)
        if not rows:
            logger.warning("claims-table: no registered claim names section %s", section, location=self.get_location())
            return []
        std = self.env.domains.standard_domain
        table = nodes.table(classes=["claims-table"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (28, 9, 63):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["claim id", "tag", "statement (from the registry)"])
        body = nodes.tbody()
        group += body
        for claim in rows:
            label = _label(claim.id)
            node_id = nodes.make_id(label)
            id_cell = nodes.paragraph()
            id_cell += nodes.literal(claim.id, claim.id)
            row = self._row([id_cell, claim.tag, claim.statement])
            row["ids"].append(node_id)
            body += row
            # a claim naming several sections has a row in each table; its link goes to the first
            if label not in std.anonlabels or std.anonlabels[label][0] == self.env.docname:
                std.anonlabels[label] = (self.env.docname, node_id)
                std.labels[label] = (self.env.docname, node_id, claim.id)
        caption = nodes.paragraph(text=f"Claims registered for section {section} ({len(rows)}); "
                                  "run one with dln-git verify --claim ID.")
        return [caption, table]

    def _index(self, claims):
        """Every registered claim, linked to its row in its section's table."""
        table = nodes.table(classes=["claims-table"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (28, 8, 8, 56):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["claim id", "section", "tag", "statement (from the registry)"])
        body = nodes.tbody()
        group += body
        for claim in sorted(claims, key=lambda c: c.id):
            id_cell = nodes.paragraph()
            id_cell += _claim_link(claim.id)
            body += self._row([id_cell, claim.section, claim.tag, claim.statement])
        tags = {t: sum(c.tag == t for c in claims) for t in ("paper", "known", "derived")}
        caption = nodes.paragraph(text=f"{len(claims)} registered claims ({tags['paper']} paper, "
                                  f"{tags['known']} known, {tags['derived']} derived).")
        return [caption, table]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=str(cell))
            row += entry
        return row


class ClaimRole(SphinxRole):
    """``{claim}`ID```: the claim's id in code font, linked to its row in a claims table."""

    def run(self):
        claim_id = self.text.strip()
        known = {c.id for c in _claims()}
        if claim_id not in known:
            logger.warning("claim role: %r is not a registered claim id", claim_id, location=self.get_location())
            return [nodes.literal(claim_id, claim_id)], []
        return [_claim_link(claim_id)], []


def _claim_link(claim_id: str):
    """A reference to the claim's row in its section's table, showing the id in code font."""
    ref = pending_xref("", refdomain="std", reftype="ref", reftarget=_label(claim_id), refexplicit=True, refwarn=True)
    ref += nodes.literal(claim_id, claim_id, classes=["claim"])
    return ref


def setup(app):
    app.add_directive("claims-table", ClaimsTable)
    app.add_role("claim", ClaimRole())
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
