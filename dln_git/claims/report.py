"""What ``dln-git verify`` reports: instances, per-claim summaries, and the run's report as
Markdown (for a referee) or JSON (every instance).

An :class:`InstanceRun` is one instance of a claim; a :class:`ClaimSummary` gathers the instances of
one claim; a :class:`VerifyReport` is the whole run (:func:`~dln_git.claims.verify` returns it).

A claim's verdict is ERROR if any instance raised, else FAIL if any instance failed, else PASS.
Its *worst* instance is the one with the largest ``|measured - expected| / tolerance`` (a failing
instance before any passing one). A check that raises is reported with its traceback.

:func:`write_report` (or :meth:`VerifyReport.write`) picks the format from the file suffix
(:data:`REPORT_SUFFIXES`) and writes atomically; :func:`check_report_path` checks a path before a
run (both in :mod:`dln_git.claims.report_file`). The Markdown is rendered by
:mod:`dln_git.claims.report_markdown`. :func:`format_number` writes figures as a referee reads
them.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .registry import SIZES, Claim, ClaimResult
from .report_file import REPORT_SUFFIXES, check_report_path, report_format, write_report
from .selection import is_glob

__all__ = [
    "REPORT_SUFFIXES",
    "ClaimSummary",
    "InstanceRun",
    "VerifyReport",
    "check_report_path",
    "format_number",
    "report_format",
    "software_versions",
    "write_report",
]


def format_number(x) -> str:
    """A figure as a referee reads it: integers plainly, other values in 4 significant digits."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if x == int(x) and abs(x) < 1e6 else f"{x:.3e}"


@dataclass(frozen=True)
class InstanceRun:
    """One instance of a claim: the generator seed, the sizes, the result or the error, the time.

    Attributes
    ----------
    claim_id : str
        The claim.
    index : int
        ``k``, the instance number in this run.
    seed : int
        The seed of the instance's generator, ``base seed + k``.
    size : str
        The size asked for.
    check_size : str
        The size the check ran (its branch for ``size``, see :meth:`Claim.size_for`); empty if
        the claim could not be looked up.
    result : ClaimResult or None
        What the check measured (floats), or None if it raised.
    error : str or None
        The traceback if it raised.
    seconds : float
        Time in the check.
    """

    claim_id: str
    index: int
    seed: int
    size: str
    check_size: str
    result: ClaimResult | None
    error: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.error is None and self.result is not None and bool(self.result.passed)

    @property
    def verdict(self) -> str:
        """``"PASS"``, ``"FAIL"`` or ``"ERROR"``."""
        if self.error is not None or self.result is None:
            return "ERROR"
        return "PASS" if self.passed else "FAIL"

    @property
    def ratio(self) -> float:
        """``|measured - expected| / tolerance``: 0 for an exact match, inf for a miss at zero
        tolerance or a NaN figure, NaN without a result."""
        r = self.result
        if r is None:
            return math.nan
        gap = abs(r.measured - r.expected)
        if math.isnan(gap):
            return math.inf
        if r.tolerance > 0:
            return gap / r.tolerance
        return 0.0 if gap == 0 else math.inf


@dataclass(frozen=True)
class ClaimSummary:
    """All instances of one claim, ordered by index, and what they add up to."""

    claim: Claim
    instances: tuple[InstanceRun, ...]

    @property
    def passes(self) -> int:
        return sum(r.verdict == "PASS" for r in self.instances)

    @property
    def failures(self) -> int:
        return sum(r.verdict == "FAIL" for r in self.instances)

    @property
    def errors(self) -> int:
        return sum(r.verdict == "ERROR" for r in self.instances)

    @property
    def verdict(self) -> str:
        """ERROR if any instance raised, else FAIL if any failed, else PASS."""
        if self.errors:
            return "ERROR"
        return "FAIL" if self.failures else "PASS"

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    @property
    def worst(self) -> InstanceRun | None:
        """The instance with the largest ``|measured - expected| / tolerance``, a failing one
        first; None if no instance produced figures."""
        measured = [r for r in self.instances if r.result is not None]
        if not measured:
            return None
        return max(measured, key=lambda r: (not r.passed, r.ratio, -r.index))

    @property
    def seconds(self) -> float:
        return float(sum(r.seconds for r in self.instances))

    @property
    def check_sizes(self) -> tuple[str, ...]:
        """The sizes the check actually ran (one, unless the claim could not be looked up)."""
        return tuple(sorted({r.check_size for r in self.instances if r.check_size}, key=SIZES.index))


def software_versions() -> dict[str, str]:
    """Python, dln-git, numpy, scipy and sympy versions and the platform, for the report header."""
    versions = {"python": platform.python_version()}
    for name in ("dln_git", "numpy", "scipy", "sympy"):
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            continue
        versions[name.replace("_", "-")] = str(getattr(module, "__version__", "unknown"))
    versions["platform"] = platform.platform()
    return versions


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`~dln_git.claims.verify`: one :class:`ClaimSummary` per claim and the run's settings.

    ``exit_code`` is 0 when every instance of every claim passed, 1 otherwise. Render with
    :meth:`to_markdown` / :meth:`to_dict`, or :meth:`write` to ``.md`` or ``.json``.
    """

    claims: tuple[ClaimSummary, ...]
    patterns: tuple[str, ...] | None
    seed: int
    seeds: int
    size: str
    execution: str
    started: str
    wall_seconds: float
    versions: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> int:
        return sum(c.verdict == "PASS" for c in self.claims)

    @property
    def failed(self) -> int:
        return sum(c.verdict == "FAIL" for c in self.claims)

    @property
    def errors(self) -> int:
        return sum(c.verdict == "ERROR" for c in self.claims)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.claims)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def verdicts(self) -> dict[str, str]:
        """Claim id -> verdict."""
        return {c.claim.id: c.verdict for c in self.claims}

    @property
    def check_seconds(self) -> float:
        return float(sum(c.seconds for c in self.claims))

    def command(
        self, claim_ids: Iterable[str] | None = None, *, seed: int | None = None, seeds: int | None = None
    ) -> str:
        """The ``dln-git verify`` command line that reruns this run (or a part of it)."""
        parts = ["dln-git", "verify"]
        chosen = list(claim_ids) if claim_ids is not None else (list(self.patterns) if self.patterns else None)
        # claims defined outside the package: the modules that register them (dln-git verify --import)
        wanted = None if claim_ids is None else set(chosen)
        modules = sorted({c.claim.check.__module__ for c in self.claims if wanted is None or c.claim.id in wanted}
                         - {"__main__"})
        modules = [m for m in modules if not m.startswith("dln_git.")]
        for module in modules:
            parts += ["--import", module]
        if chosen:
            parts += ["--claim", *(f"'{p}'" if is_glob(p) else p for p in chosen)]
        parts += ["--seed", str(self.seed if seed is None else seed)]
        seeds = self.seeds if seeds is None else seeds
        if seeds != 1:
            parts += ["--seeds", str(seeds)]
        parts += ["--size", self.size]
        return " ".join(parts)

    def summary_line(self) -> str:
        """``"N passed, M failed"`` (failed counts the errors too, which are then named)."""
        line = f"{self.passed} passed, {self.failed + self.errors} failed"
        return line + (f" ({self.errors} raised an exception)" if self.errors else "")

    # -- Markdown ------------------------------------------------------------------------------

    def to_markdown(self) -> str:
        """The report as Markdown: header, summary table, failures and errors with tracebacks,
        and the details the checks gave for their worst instances (:mod:`.report_markdown`)."""
        from .report_markdown import render_markdown

        return render_markdown(self)

    # -- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The report as JSON-ready data, every instance included (non-finite floats as strings)."""

        def instance(r: InstanceRun) -> dict:
            res = r.result
            return {
                "index": r.index,
                "seed": r.seed,
                "size": r.size,
                "check_size": r.check_size,
                "verdict": r.verdict,
                "measured": _jsonable(res.measured) if res else None,
                "expected": _jsonable(res.expected) if res else None,
                "tolerance": _jsonable(res.tolerance) if res else None,
                "ratio": _jsonable(r.ratio) if res else None,
                "detail": res.detail if res else None,
                "error": r.error,
                "seconds": r.seconds,
            }

        return {
            "tool": "dln-git verify",
            "started": self.started,
            "wall_seconds": self.wall_seconds,
            "settings": {
                "patterns": list(self.patterns) if self.patterns else None,
                "seed": self.seed,
                "seeds": self.seeds,
                "size": self.size,
                "execution": self.execution,
                "command": self.command(),
            },
            "versions": dict(self.versions),
            "summary": {
                "claims": len(self.claims),
                "passed": self.passed,
                "failed": self.failed,
                "errors": self.errors,
                "exit_code": self.exit_code,
            },
            "claims": [
                {
                    "id": c.claim.id,
                    "statement": c.claim.statement,
                    "section": c.claim.section,
                    "tag": c.claim.tag,
                    "verdict": c.verdict,
                    "instances": len(c.instances),
                    "passes": c.passes,
                    "failures": c.failures,
                    "errors": c.errors,
                    "seconds": c.seconds,
                    "worst": None if c.worst is None else instance(c.worst),
                    "runs": [instance(r) for r in c.instances],
                }
                for c in self.claims
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report; the format follows the suffix (see :func:`report_format`)."""
        return write_report(self, path)
