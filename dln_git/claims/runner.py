"""The runner behind ``dln-git verify``: the registered claims on many random instances, serially
or in parallel, with a summary and a report a referee can read.

>>> from dln_git.claims import verify
>>> report = verify(["core.*"], seeds=3)            # doctest: +SKIP
>>> report.exit_code, report.write("verify.md")    # doctest: +SKIP

Which claims run is :mod:`dln_git.claims.selection` (``patterns``: claim ids or globs); what the
run reports, and how it is rendered, is :mod:`dln_git.claims.report`.

Instances and seeds
-------------------
Instance ``k = 0, ..., seeds - 1`` of a claim runs its check on the generator
``claim_rng(claim_id, seed + k)``. So instance 0 of the default run (``seed=0``) is exactly
``run_claim(claim, 0)``, results do not depend on the order or the process instances run in,
and instance ``k`` of ``verify(seed=s, seeds=K)`` is instance 0 of ``verify(seed=s + k)``: the
report gives the command reproducing each failing instance on its own.

A check that raises does not stop the run: its instance is reported as an error, with its
traceback, and the run goes on.

Parallel runs
-------------
The unit of work is one instance, ``(claim id, seed)``, submitted to a
:class:`concurrent.futures.Executor` as a picklable task; the worker looks the claim up in its
own registry. Three ways to run:

``jobs=1`` (default)
    Serially, in this process.
``jobs=J > 1``
    A :class:`~concurrent.futures.ProcessPoolExecutor` with ``J`` workers (but no more workers
    than instances: ``J`` is capped at their number, and a run of one instance is serial),
    created and shut down by :func:`verify` (:mod:`dln_git.claims.workers`). The start method
    is ``"fork"`` where it exists (Linux: workers start at once and inherit every registered
    claim, even one registered at run time, in a function) and ``"spawn"`` elsewhere;
    ``start_method`` overrides it.
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

Ctrl-C
------
A ``KeyboardInterrupt`` during the run stops it: instances not started are cancelled, the
workers of a pool :func:`verify` started are terminated (they ignore SIGINT themselves, so none
prints a traceback), and :class:`VerifyInterrupted`, a ``KeyboardInterrupt`` saying how many
claims and instances were done, is raised. No report exists for an interrupted run.

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
import importlib
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..core.options import Rule, check_options
from . import registry as _registry
from .registry import SIZES, Claim, ClaimResult, all_claims, run_claim
from .report import ClaimSummary, InstanceRun, VerifyReport, software_versions
from .selection import select_claims
from .workers import blas_threads, default_start_method, process_pool, sigint_deferred, worker_count

__all__ = ["VerifyInterrupted", "verify", "worker_count"]

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
# execution


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


def _run_in(executor: cf.Executor, tasks: list[_Task], collector: _Collector, *, own_pool: bool = False) -> None:
    """Submit every task to ``executor`` and collect the runs as they complete. ``own_pool``: the
    executor is a process pool of ours whose workers start during the submits, with SIGINT
    deferred (see :mod:`.workers`)."""
    futures: dict[cf.Future, _Task] = {}
    try:
        with sigint_deferred() if own_pool else contextlib.nullcontext():
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


class VerifyInterrupted(KeyboardInterrupt):
    """Ctrl-C (a ``KeyboardInterrupt``) stopped :func:`verify`; says how far the run got.

    A subclass of ``KeyboardInterrupt``, so code that handles Ctrl-C still does. The instances
    not started were cancelled and the workers of the process pool :func:`verify` started were
    terminated before it was raised; the workers of a given ``executor`` are that executor's
    business (running instances of a thread pool finish in the background).

    Attributes
    ----------
    summaries : tuple of ClaimSummary
        The claims completed before the interruption (every instance in), in registration order.
    claims_done, claims_total, instances_done, instances_total : int
        Claims completed and selected; instances completed and planned.
    """

    def __init__(self, summaries, claims_total: int, instances_done: int, instances_total: int):
        self.summaries = tuple(summaries)
        self.claims_done, self.claims_total = len(self.summaries), claims_total
        self.instances_done, self.instances_total = instances_done, instances_total
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"interrupted: {self.claims_done} of {self.claims_total} claims done "
            f"({self.instances_done} of {self.instances_total} instances)"
        )


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
        ``J`` workers, 0 one worker per available core; capped at the number of instances
        (``len(claims) * seeds``, see :func:`worker_count`).
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
    VerifyInterrupted
        On Ctrl-C (a ``KeyboardInterrupt`` subclass), after cancelling the run.
    """
    seeds, seed, jobs, threads_per_job, size, progress = check_options(
        seeds=(seeds, Rule.count(1, "random instances per claim")),
        seed=(seed, Rule.count(0, "the base seed")),
        jobs=(jobs, Rule.count(0, "worker processes; 0 for one per core")),
        threads_per_job=(threads_per_job, Rule.count(0, "BLAS threads per job; 0 leaves BLAS alone")),
        size=(size, Rule.choice(*SIZES, what="the instance size")),
        progress=(progress, Rule("bool", allow_none=True, what="the progress bar; None: when stderr is a terminal")),
    )
    if start_method is not None:
        methods = multiprocessing.get_all_start_methods()
        (start_method,) = check_options(start_method=(start_method, Rule.choice(*methods, what="a start method")))
    if executor is not None and jobs not in (0, 1):
        raise ValueError("verify: pass either executor or jobs > 1, not both")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"verify: executor must be a concurrent.futures.Executor, got {type(executor).__name__}")

    claims = select_claims(patterns)
    pattern_tuple = None if patterns is None else ((patterns,) if isinstance(patterns, str) else tuple(patterns))
    tasks = [_Task(c.id, k, seed + k, size, getattr(c.check, "__module__", None)) for c in claims for k in range(seeds)]
    workers = worker_count(jobs, len(tasks))
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
            with blas_threads(threads_per_job or None):
                for task in tasks:
                    collector.add(_run_task(task))
        else:
            method = start_method or default_start_method()
            execution = f"process pool of {workers} workers ({method}" + (
                f", {threads_per_job} BLAS thread(s) each)" if threads_per_job else ")"
            )
            with process_pool(workers, method, threads_per_job or None) as pool:
                _run_in(pool, tasks, collector, own_pool=True)
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, VerifyInterrupted):
            raise
        done = sum(len(runs) for runs in collector.runs.values())
        raise VerifyInterrupted(collector.summaries, len(claims), done, len(tasks)) from interrupt
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
        versions=software_versions(),
    )
