"""The worker processes of ``dln-git verify --jobs J``: how many, their BLAS threads, and how
they stop on Ctrl-C.

How many
    :func:`worker_count`: ``J`` workers, or one per available core for ``J = 0``, but never more
    than there are instances to run (an idle worker costs a process start and its memory).

BLAS threads
    Each worker caps its BLAS threads for its lifetime (``threadpoolctl``, plus
    ``OMP_NUM_THREADS`` and its kin for libraries loaded later); see :mod:`dln_git.claims.runner`.

Ctrl-C
    A terminal sends SIGINT to every process of the foreground group, workers included. Workers
    ignore it (:func:`_init_worker`), so only this process sees it, as a ``KeyboardInterrupt``,
    and stops the pool itself: :func:`process_pool` cancels the instances not started
    (``shutdown(cancel_futures=True)``), terminates the workers still running one and waits for
    them, so no worker outlives the run and none prints a traceback. SIGINT is blocked while
    workers start (:func:`sigint_deferred`): a forked worker (``"fork"``, ``"forkserver"``)
    inherits the blocked mask and unblocks it only once it ignores the signal, so it never
    runs Python code with the default handler; a Ctrl-C during the start reaches this process
    when the submits are done (or at once, through another of its threads) and stops the pool
    as any other. A ``"spawn"`` worker is a fresh interpreter whose mask is reset (measured on
    Linux): a Ctrl-C in the second it takes to start, before its initializer runs, may still
    print a traceback from it; the run stops all the same.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys

from threadpoolctl import threadpool_limits

from .registry import all_claims

__all__ = ["process_pool", "sigint_deferred", "worker_count"]

#: Environment variables that set the BLAS/OpenMP threads of libraries loaded after them.
_BLAS_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: Seconds to wait for a terminated worker before killing it.
_TERMINATE_GRACE_SECONDS = 10.0

_CAN_MASK_SIGNALS = hasattr(signal, "pthread_sigmask")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(jobs: int, tasks: int) -> int:
    """Workers for ``tasks`` instances: ``min(jobs or available_cores(), tasks)``, at least 1."""
    return max(1, min(jobs or available_cores(), tasks))


@contextlib.contextmanager
def blas_threads(threads: int | None):
    """Cap the BLAS threads of this process within the block (``None``: leave them), restoring
    them afterwards (threadpoolctl)."""
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads):
        yield


@contextlib.contextmanager
def sigint_deferred():
    """Block SIGINT in this thread within the block (where the platform can): processes started
    within the block inherit the blocked signal, and a SIGINT pending for this thread is
    delivered, as a ``KeyboardInterrupt``, when the block ends. (A Ctrl-C that the kernel hands
    to another thread of this process, one that does not block it, still interrupts the block;
    the caller's cleanup handles it as any Ctrl-C.)"""
    if not _CAN_MASK_SIGNALS:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if signal.SIGINT not in previous:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _init_worker(threads: int | None) -> None:
    """Initializer of the workers :func:`process_pool` starts: ignore SIGINT (the parent stops
    the pool on Ctrl-C), cap BLAS threads (unless None), load the claims."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _CAN_MASK_SIGNALS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if threads is not None:
        for var in _BLAS_THREAD_VARIABLES:  # libraries loaded from now on, and subprocesses
            os.environ[var] = str(threads)
        # Kept referenced for the worker's lifetime: an unreferenced context manager entered
        # here is garbage-collected at once, and its exit restored the default thread count.
        global _WORKER_BLAS_LIMITS
        _WORKER_BLAS_LIMITS = threadpool_limits(limits=threads)
    all_claims()


#: The BLAS cap of a pool worker (see :func:`_init_worker`).
_WORKER_BLAS_LIMITS = None


def blas_threads_in_use() -> int:
    """The largest thread count among this process's BLAS libraries (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return max((int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"), default=1)


def default_start_method() -> str:
    """``"fork"`` where it exists (not on macOS, where it is unsafe), else ``"spawn"``."""
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods and sys.platform != "darwin" else "spawn"


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what has not started, terminate the workers and wait for them."""
    # The worker processes: the executor keeps them in ``_processes`` and drops that reference on
    # shutdown, so read it first. (Python 3.14's public terminate_workers does the same.)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(_TERMINATE_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


@contextlib.contextmanager
def process_pool(workers: int, start_method: str, threads: int | None):
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes whose
    initializer is :func:`_init_worker`. Shut down normally (waiting for its work) when the block
    ends normally; when it raises (Ctrl-C included), the pending instances are cancelled and the
    workers terminated before the exception goes on."""
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_init_worker,
        initargs=(threads,),
    )
    try:
        yield pool
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
