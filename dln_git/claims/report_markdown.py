"""The Markdown rendering of a :class:`~dln_git.claims.report.VerifyReport`: a report a referee
reads (header, summary table, failures and errors with tracebacks, details of the worst
instances). :meth:`VerifyReport.to_markdown` calls :func:`render_markdown`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import SIZES
from .report import format_number

if TYPE_CHECKING:
    from .report import ClaimSummary, VerifyReport

__all__ = ["render_markdown"]

#: How many failing instances of one claim the Markdown report spells out (the JSON has all).
_MARKDOWN_FAILURES_PER_CLAIM = 10


def _md(text: str, *, cell: bool = False) -> str:
    """Plain text on one line for Markdown: ``*`` and ``<`` escaped (they would start emphasis or
    HTML), and ``|`` too inside a table cell."""
    text = " ".join(str(text).split()).replace("*", "\\*").replace("<", "\\<")
    return text.replace("|", "\\|") if cell else text


def render_markdown(report: VerifyReport) -> str:
    """The report as Markdown: header, summary table, failures and errors with tracebacks,
    and the details the checks gave for their worst instances."""
    n = len(report.claims)
    verdict = "all claims pass" if report.ok else f"{report.failed + report.errors} of {n} claims do not pass"
    selection = "all registered claims" if not report.patterns else ", ".join(f"`{p}`" for p in report.patterns)
    seeds = f"seed {report.seed}" if report.seeds == 1 else f"seeds {report.seed} to {report.seed + report.seeds - 1}"
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items() if k != "platform")
    lines = [
        f"# dln-git verify: {verdict}",
        "",
        f"- **Result**: {n} claims: {report.passed} passed, {report.failed} failed, {report.errors} raised an "
        f"exception (exit code {report.exit_code})",
        f"- **Command**: `{report.command()}`",
        f"- **Claims**: {selection}",
        f"- **Instances**: {report.seeds} per claim ({seeds}); size {report.size}",
        f"- **Execution**: {report.execution}; wall time {report.wall_seconds:.1f} s, "
        f"time in checks {report.check_seconds:.1f} s",
        f"- **Date**: {report.started}",
        f"- **Versions**: {versions}" + (f"; {report.versions['platform']}" if "platform" in report.versions else ""),
        "",
        "Each instance runs the claim's check on its own random instance (a generator seeded by the seed and",
        "the claim id) and compares the measured figure with the expected one: it passes when",
        "|measured − expected| ≤ tolerance, or when the conditions its detail states hold. A claim passes when",
        "every instance does. *Worst* is the instance with the largest |measured − expected| / tolerance,",
        "a failing instance first.",
        "",
        "## Summary",
        "",
        "| Claim | Statement | § | Tag | Instances passed | Worst measured | Expected | Tolerance | Verdict "
        "| Time (s) |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for c in report.claims:
        w = c.worst
        figures = (
            [format_number(w.result.measured), format_number(w.result.expected), format_number(w.result.tolerance)]
            if w is not None
            else ["—", "—", "—"]
        )
        verdict_cell = c.verdict if c.passed else f"**{c.verdict}**"
        cells = [
            f"`{c.claim.id}`",
            _md(c.claim.statement, cell=True),
            _md(c.claim.section, cell=True),
            c.claim.tag,
            f"{c.passes}/{len(c.instances)}",
            *figures,
            verdict_cell,
            f"{c.seconds:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    mapped = [c for c in report.claims if c.check_sizes and c.check_sizes != (report.size,)]
    if mapped:
        ran = "/".join(sorted({s for c in mapped for s in c.check_sizes}, key=SIZES.index))
        lines += [
            "",
            f"Checks without a {report.size} branch ran their {ran} branch: "
            f"{', '.join(f'`{c.claim.id}`' for c in mapped)}.",
        ]
    lines += ["", "## Failures and errors", ""]
    bad = [c for c in report.claims if not c.passed]
    if not bad:
        lines += ["None: every instance of every claim passed.", ""]
    for c in bad:
        lines += _markdown_failure(report, c)
    details = [(c, c.worst) for c in report.claims if c.passed and c.worst is not None and c.worst.result.detail]
    if details:
        lines += ["## Details of the worst instances", ""]
        for c, w in details:
            lines.append(f"- `{c.claim.id}` (seed {w.seed}): {_md(w.result.detail)}")
        lines.append("")
    return "\n".join(lines)

def _markdown_failure(report: VerifyReport, c: ClaimSummary) -> list[str]:
    lines = [
        f"### {c.verdict} `{c.claim.id}`",
        "",
        f"> {_md(c.claim.statement)} (§{_md(c.claim.section)}, {c.claim.tag})",
        "",
        f"{c.passes} of {len(c.instances)} instances passed, {c.failures} failed, {c.errors} raised.",
        "",
    ]
    bad = [r for r in c.instances if not r.passed]
    for r in bad[:_MARKDOWN_FAILURES_PER_CLAIM]:
        head = f"- **Instance {r.index}** (seed {r.seed}, size {r.check_size or r.size}): {r.verdict}"
        if r.result is not None:
            res = r.result
            head += (
                f"; measured {format_number(res.measured)}, expected {format_number(res.expected)}, "
                f"tolerance {format_number(res.tolerance)} (|measured − expected| / tolerance = "
                f"{format_number(r.ratio)})"
            )
            if res.detail:
                head += f". {_md(res.detail)}"
        lines.append(head)
        lines.append(f"  - reproduce: `{report.command([c.claim.id], seed=r.seed, seeds=1)}`")
        if r.error is not None:
            lines += ["", "  ```text", *("  " + ln for ln in r.error.rstrip().splitlines()), "  ```", ""]
    if len(bad) > _MARKDOWN_FAILURES_PER_CLAIM:
        lines.append(f"- … and {len(bad) - _MARKDOWN_FAILURES_PER_CLAIM} more (all of them in the JSON report)")
    lines.append("")
    return lines
