"""The runner behind ``dln-git verify``: the registered claims on many random instances, serially
or in parallel, with a summary and a report a referee can read.

>>> from dln_git.claims import verify
>>> report = verify(["core.*"], seeds=3)            # doctest: +SKIP
>>> report.exit_code, report.write("verify.md")    # doctest: +SKIP

Selection
---------
``patterns`` are claim ids or :mod:`fnmatch` globs on ids (``"flows.*"``, ``"*rate*"``); claims
run in registration order. A pattern that matches nothing is an error naming the known ids.

Instances and seeds
-------------------
Instance ``k = 0, ..., seeds - 1`` of a claim runs its check on the generator
``claim_rng(claim_id, seed + k)``. So instance 0 of the default run (``seed=0``) is exactly
``run_claim(claim, 0)``, results do not depend on the order or the process instances run in,
and instance ``k`` of ``verify(seed=s, seeds=K)`` is instance 0 of ``verify(seed=s + k)``: the
report gives the command reproducing each failing instance on its own.

A claim's verdict is ERROR if any instance raised, else FAIL if any instance failed, else PASS.
Its *worst* instance is the one with the largest ``|measured - expected| / tolerance`` (a failing
instance before any passing one). A check that raises is reported with its traceback and the
run goes on.

Parallel runs
-------------
The unit of work is one instance, ``(claim id, seed)``, submitted to a
:class:`concurrent.futures.Executor` as a picklable task; the worker looks the claim up in its
own registry. Three ways to run:

``jobs=1`` (default)
    Serially, in this process.
``jobs=J > 1``
    A :class:`~concurrent.futures.ProcessPoolExecutor` with ``J`` workers, created and shut down
    by :func:`verify`. The start method is ``"fork"`` where it exists (Linux: workers start at
    once and inherit every registered claim, even one registered at run time, in a function)
    and ``"spawn"`` elsewhere; ``start_method`` overrides it.
``executor=...``
    Any :class:`concurrent.futures.Executor`, used as it is and not shut down: a
    :class:`~concurrent.futures.ThreadPoolExecutor`, a pool of your own, or a distributed one
    for sweeps that outgrow one machine, e.g. with dask.distributed::

        from dask.distributed import Client
        client = Client("tcp://scheduler:8786")
        report = verify(seeds=1000, size="medium", executor=client.get_executor())
        report.write("verify-medium.json")

    The workers need the same dln-git installed; BLAS threads there are the cluster's business.

BLAS threads: each job (this process for a serial run, each pool worker) runs with
``threads_per_job`` BLAS threads, 1 by default, so ``J`` workers never oversubscribe the cores.
The checks work on matrices of a few dozen entries, where BLAS threads cost more than they
bring: on a busy 2-core machine, OpenBLAS's default 2 threads made some checks 10-25 times
slower than 1 thread. The cap goes through ``threadpoolctl``, plus
``OMP_NUM_THREADS`` and its kin in the workers for libraries loaded later; a serial run restores
the previous setting afterwards. ``threads_per_job=0`` leaves BLAS alone.

A worker that does not know a claim imports the module its check is defined in, so a claim
registered at import time of an importable module (as the built-in ones are) runs in any
executor. A claim registered inside a function runs in this process, in threads and in forked
workers only; elsewhere its instances are reported as errors saying so.

Sizes
-----
``size`` is one of :data:`~dln_git.claims.registry.SIZES`. A check that has no branch for it runs
its largest smaller branch (:meth:`Claim.size_for`): ``"large"`` runs the medium branch of the
checks that only know small and medium; the report lists them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime
import fnmatch
import importlib
import json
import math
import multiprocessing
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from . import registry as _registry
from .registry import SIZES, Claim, ClaimResult, all_claims, run_claim

__all__ = [
    "REPORT_SUFFIXES",
    "ClaimSummary",
    "InstanceRun",
    "UnknownClaimError",
    "VerifyReport",
    "format_number",
    "report_format",
    "select_claims",
    "verify",
    "write_report",
]

#: Report file suffixes and the format each one writes.
REPORT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json"}

#: How many failing instances of one claim the Markdown report spells out (the JSON has all).
_MARKDOWN_FAILURES_PER_CLAIM = 10

_BLAS_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
class UnknownClaimError(KeyError):
    """A claim id or pattern matches no registered claim (the message names the known ids)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def format_number(x) -> str:
    """A figure as a referee reads it: integers plainly, other values in 4 significant digits."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if x == int(x) and abs(x) < 1e6 else f"{x:.3e}"


# ----------------------------------------------------------------------------------------------
# selection


def _is_glob(pattern: str) -> bool:
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
            what = f"pattern {pattern!r} matches no claim" if _is_glob(pattern) else f"unknown claim {pattern!r}"
            raise UnknownClaimError(f"{what}; known claims: {', '.join(sorted(c.id for c in claims))}")
        chosen |= hits
    return [c for c in claims if c.id in chosen]


# ----------------------------------------------------------------------------------------------
# one instance


@dataclass(frozen=True)
class _Task:
    """One instance to run, as sent to a worker: plain, picklable data (no callables)."""

    claim_id: str
    index: int
    seed: int
    size: str
    module: str | None


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


def _lookup(claim_id: str, module: str | None) -> Claim:
    """The claim in this (possibly worker) process, importing the module of its check if needed."""
    all_claims()  # the built-in claims
    claim = _registry._REGISTRY.get(claim_id)
    if claim is None and module and module not in ("__main__", "__mp_main__"):
        importlib.import_module(module)
        claim = _registry._REGISTRY.get(claim_id)
    if claim is None:
        raise LookupError(
            f"claim {claim_id!r} is not registered in process {os.getpid()} (its check is defined in module "
            f"{module!r}): register claims at import time of an importable module to run them in fresh worker "
            "processes or on a cluster, or run them with jobs=1, threads or forked workers"
        )
    return claim


def _run_task(task: _Task) -> InstanceRun:
    """Run one instance (in a worker or in process); never raises for a failing check."""
    try:
        claim = _lookup(task.claim_id, task.module)
    except Exception:
        return InstanceRun(task.claim_id, task.index, task.seed, task.size, "", None, traceback.format_exc(), 0.0)
    run = run_claim(claim, seed=task.seed, size=task.size)
    result, error = run.result, run.error
    if result is not None:  # plain floats: picklable, comparable, JSON-able
        try:
            result = ClaimResult(
                float(result.measured),
                float(result.expected),
                float(result.tolerance),
                bool(result.passed),
                str(result.detail),
            )
        except Exception:
            result, error = None, traceback.format_exc()
    return InstanceRun(
        task.claim_id, task.index, task.seed, task.size, claim.size_for(task.size), result, error, run.seconds
    )


# ----------------------------------------------------------------------------------------------
# aggregation


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


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("dln_git", "numpy", "scipy", "sympy"):
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            continue
        versions[name.replace("_", "-")] = str(getattr(module, "__version__", "unknown"))
    versions["platform"] = platform.platform()
    return versions


def _md(text: str, *, cell: bool = False) -> str:
    """Plain text on one line for Markdown: ``*`` and ``<`` escaped (they would start emphasis or
    HTML), and ``|`` too inside a table cell."""
    text = " ".join(str(text).split()).replace("*", "\\*").replace("<", "\\<")
    return text.replace("|", "\\|") if cell else text


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify`: one :class:`ClaimSummary` per claim and the run's settings.

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
        if chosen:
            parts += ["--claim", *(f"'{p}'" if _is_glob(p) else p for p in chosen)]
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
        and the details the checks gave for their worst instances."""
        n = len(self.claims)
        verdict = "all claims pass" if self.ok else f"{self.failed + self.errors} of {n} claims do not pass"
        selection = "all registered claims" if not self.patterns else ", ".join(f"`{p}`" for p in self.patterns)
        seeds = f"seed {self.seed}" if self.seeds == 1 else f"seeds {self.seed} to {self.seed + self.seeds - 1}"
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items() if k != "platform")
        lines = [
            f"# dln-git verify: {verdict}",
            "",
            f"- **Result**: {n} claims: {self.passed} passed, {self.failed} failed, {self.errors} raised an exception "
            f"(exit code {self.exit_code})",
            f"- **Command**: `{self.command()}`",
            f"- **Claims**: {selection}",
            f"- **Instances**: {self.seeds} per claim ({seeds}); size {self.size}",
            f"- **Execution**: {self.execution}; wall time {self.wall_seconds:.1f} s, "
            f"time in checks {self.check_seconds:.1f} s",
            f"- **Date**: {self.started}",
            f"- **Versions**: {versions}" + (f"; {self.versions['platform']}" if "platform" in self.versions else ""),
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
        for c in self.claims:
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
        mapped = [c for c in self.claims if c.check_sizes and c.check_sizes != (self.size,)]
        if mapped:
            ran = "/".join(sorted({s for c in mapped for s in c.check_sizes}, key=SIZES.index))
            lines += [
                "",
                f"Checks without a {self.size} branch ran their {ran} branch: "
                f"{', '.join(f'`{c.claim.id}`' for c in mapped)}.",
            ]
        lines += ["", "## Failures and errors", ""]
        bad = [c for c in self.claims if not c.passed]
        if not bad:
            lines += ["None: every instance of every claim passed.", ""]
        for c in bad:
            lines += self._markdown_failure(c)
        details = [(c, c.worst) for c in self.claims if c.passed and c.worst is not None and c.worst.result.detail]
        if details:
            lines += ["## Details of the worst instances", ""]
            for c, w in details:
                lines.append(f"- `{c.claim.id}` (seed {w.seed}): {_md(w.result.detail)}")
            lines.append("")
        return "\n".join(lines)

    def _markdown_failure(self, c: ClaimSummary) -> list[str]:
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
            lines.append(f"  - reproduce: `{self.command([c.claim.id], seed=r.seed, seeds=1)}`")
            if r.error is not None:
                lines += ["", "  ```text", *("  " + ln for ln in r.error.rstrip().splitlines()), "  ```", ""]
        if len(bad) > _MARKDOWN_FAILURES_PER_CLAIM:
            lines.append(f"- … and {len(bad) - _MARKDOWN_FAILURES_PER_CLAIM} more (all of them in the JSON report)")
        lines.append("")
        return lines

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


def report_format(path: str | os.PathLike) -> str:
    """``"markdown"`` or ``"json"`` from the file suffix.

    Raises
    ------
    ValueError
        For any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(
            f"report file must end in {', '.join(REPORT_SUFFIXES)} (Markdown or JSON), got {os.fspath(path)!r}"
        )
    return REPORT_SUFFIXES[suffix]


def write_report(report: VerifyReport, path: str | os.PathLike) -> Path:
    """Write ``report`` as Markdown (``.md``) or JSON (``.json``) and return the path."""
    path = Path(path)
    text = report.to_markdown() if report_format(path) == "markdown" else report.to_json()
    path.write_text(text + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# execution


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def _blas_threads(threads: int | None):
    """Cap the BLAS threads of this process within the block (``None``: leave them), restoring
    them afterwards (threadpoolctl)."""
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads):
        yield


def _init_worker(threads: int | None) -> None:
    """Initializer of the workers :func:`verify` starts: cap BLAS threads (unless None), load
    the claims."""
    if threads is not None:
        for var in _BLAS_THREAD_VARIABLES:  # libraries loaded from now on, and subprocesses
            os.environ[var] = str(threads)
        _blas_threads(threads).__enter__()  # for the worker's lifetime
    all_claims()


def _default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods and sys.platform != "darwin" else "spawn"


class _Progress:
    """A tqdm bar on stderr (a plain counter if tqdm is missing); a no-op when disabled."""

    def __init__(self, total: int, enabled: bool, delay: float):
        self.total, self.enabled, self.delay = total, enabled, delay
        self._bar = None
        self._done = 0

    def start(self) -> None:
        if not self.enabled or self._bar is not None:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = False
            return
        self._bar = tqdm(
            total=self.total, desc="dln-git verify", unit="instance", file=sys.stderr, delay=self.delay, leave=False
        )

    def update(self, claim_id: str) -> None:
        if not self.enabled:
            return
        self.start()
        self._done += 1
        if self._bar is False:
            print(f"dln-git verify: {self._done}/{self.total} instances ({claim_id})", file=sys.stderr, flush=True)
        else:
            self._bar.set_postfix_str(claim_id, refresh=False)
            self._bar.update(1)

    def write_mode(self):
        """Context in which printing to stdout does not garble the bar."""
        if self._bar:
            return type(self._bar).external_write_mode(file=sys.stdout)
        return contextlib.nullcontext()

    def close(self) -> None:
        if self._bar:
            self._bar.close()


class _Collector:
    """Gathers instance runs; hands each claim to ``on_claim`` in registration order once all its
    instances are in."""

    def __init__(self, claims: list[Claim], seeds: int, on_claim, progress: _Progress):
        self.claims, self.seeds, self.on_claim, self.progress = claims, seeds, on_claim, progress
        self.runs: dict[str, list[InstanceRun]] = {c.id: [] for c in claims}
        self.summaries: list[ClaimSummary] = []

    def add(self, run: InstanceRun) -> None:
        self.runs[run.claim_id].append(run)
        self.progress.update(run.claim_id)
        while len(self.summaries) < len(self.claims):
            claim = self.claims[len(self.summaries)]
            if len(self.runs[claim.id]) < self.seeds:
                break
            summary = ClaimSummary(claim, tuple(sorted(self.runs[claim.id], key=lambda r: r.index)))
            self.summaries.append(summary)
            if self.on_claim is not None:
                with self.progress.write_mode():
                    self.on_claim(summary)


def _run_in(executor: cf.Executor, tasks: list[_Task], collector: _Collector) -> None:
    futures: dict[cf.Future, _Task] = {}
    try:
        for task in tasks:
            futures[executor.submit(_run_task, task)] = task
        collector.progress.start()  # after the submits: a forked worker never inherits the bar's thread
        for future in cf.as_completed(futures):
            task = futures[future]
            try:
                run = future.result()
            except Exception:  # the executor could not run or return it (a worker died, pickling)
                error = "the executor could not run this instance:\n" + traceback.format_exc()
                run = InstanceRun(task.claim_id, task.index, task.seed, task.size, "", None, error, 0.0)
            collector.add(run)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def verify(
    patterns: str | Iterable[str] | None = None,
    *,
    seeds: int = 1,
    seed: int = 0,
    size: str = "small",
    executor: cf.Executor | None = None,
    jobs: int = 1,
    progress: bool | None = None,
    start_method: str | None = None,
    threads_per_job: int = 1,
    on_claim: Callable[[ClaimSummary], None] | None = None,
) -> VerifyReport:
    """Run the registered claims on ``seeds`` random instances each and summarise.

    Parameters
    ----------
    patterns : str or iterable of str, optional
        Claim ids or globs (``"flows.*"``); every registered claim by default.
    seeds : int, default 1
        Random instances per claim, ``K >= 1``.
    seed : int, default 0
        Base seed ``s >= 0``: instance ``k`` draws from ``claim_rng(claim_id, s + k)``.
    size : {"small", "medium", "large"}, default "small"
        Instance size; a check without that branch runs its largest smaller one.
    executor : concurrent.futures.Executor, optional
        Runs the instances (e.g. ``ThreadPoolExecutor``, dask's ``Client.get_executor()``); used
        as is and not shut down. Exclusive with ``jobs > 1``.
    jobs : int, default 1
        Without ``executor``: 1 runs serially in this process, ``J > 1`` in a process pool of
        ``J`` workers, 0 one worker per available core.
    progress : bool, optional
        tqdm bar on stderr; by default shown when stderr is a terminal and the run takes more
        than a second.
    start_method : {"fork", "spawn", "forkserver"}, optional
        Start method of the process pool (default ``"fork"`` where available, else ``"spawn"``).
    threads_per_job : int, default 1
        BLAS threads of each job (this process when serial, each pool worker otherwise), capped
        for the run and restored after a serial one; 0 leaves BLAS as configured. Not applied to
        a given ``executor``.
    on_claim : callable, optional
        Called with each :class:`ClaimSummary` as soon as it and every claim before it are done,
        in registration order (the CLI prints with it).

    Returns
    -------
    VerifyReport
        Claims in registration order, instances by index: the same whatever executes them.

    Raises
    ------
    UnknownClaimError
        If a pattern matches no claim.
    ValueError, TypeError
        For invalid settings; a failing or raising check never raises here.
    """
    for name, value, low in (("seeds", seeds, 1), ("seed", seed, 0), ("jobs", jobs, 0)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"verify: {name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"verify: {name} must be >= {low}, got {value}")
    if size not in SIZES:
        raise ValueError(f"verify: size must be one of {SIZES}, got {size!r}")
    if executor is not None and jobs not in (0, 1):
        raise ValueError("verify: pass either executor or jobs > 1, not both")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"verify: executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    if start_method is not None and start_method not in multiprocessing.get_all_start_methods():
        raise ValueError(
            f"verify: start_method must be one of {multiprocessing.get_all_start_methods()}, got {start_method!r}"
        )
    if isinstance(threads_per_job, bool) or not isinstance(threads_per_job, int) or threads_per_job < 0:
        raise ValueError(f"verify: threads_per_job must be an int >= 0, got {threads_per_job!r}")

    claims = select_claims(patterns)
    pattern_tuple = None if patterns is None else ((patterns,) if isinstance(patterns, str) else tuple(patterns))
    tasks = [_Task(c.id, k, seed + k, size, getattr(c.check, "__module__", None)) for c in claims for k in range(seeds)]
    workers = jobs or _available_cores()
    if progress is None:
        enabled, delay = bool(getattr(sys.stderr, "isatty", lambda: False)()), 1.0
    else:
        enabled, delay = bool(progress), 0.0
    bar = _Progress(len(tasks), enabled, delay)
    collector = _Collector(claims, seeds, on_claim, bar)

    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    try:
        if executor is not None:
            execution = f"executor {type(executor).__module__}.{type(executor).__qualname__}"
            _run_in(executor, tasks, collector)
        elif workers == 1:
            execution = "serial, 1 process" + (f", {threads_per_job} BLAS thread(s)" if threads_per_job else "")
            bar.start()
            with _blas_threads(threads_per_job or None):
                for task in tasks:
                    collector.add(_run_task(task))
        else:
            method = start_method or _default_start_method()
            execution = f"process pool of {workers} workers ({method}" + (
                f", {threads_per_job} BLAS thread(s) each)" if threads_per_job else ")"
            )
            with cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(threads_per_job or None,),
            ) as pool:
                _run_in(pool, tasks, collector)
    finally:
        bar.close()
    return VerifyReport(
        claims=tuple(collector.summaries),
        patterns=pattern_tuple,
        seed=seed,
        seeds=seeds,
        size=size,
        execution=execution,
        started=started,
        wall_seconds=time.perf_counter() - start,
        versions=_versions(),
    )
