"""Experiment grids: every point of a grid run through a :class:`concurrent.futures.Executor`,
collected as a tidy table (one row per point and measured quantity set), saved as CSV or JSON and
read back, so that figures are rebuilt from saved tables rather than from a live run.

A grid is a list of plain dicts (the *point*: learning rate, seed, size, ...); the task is a
module-level function ``task(point) -> dict | list[dict]`` of measured values (picklable, so a
process pool or a cluster can run it). Each returned row is the point merged with the measured
values, and rows come back in the order of the points, whatever order the executor finished them in.

>>> rows = run_grid(_demo_task, grid(x=[1, 2], seed=[0]), jobs=1, progress=False)
>>> [r["y"] for r in rows]
[2, 4]

The executor is any :class:`concurrent.futures.Executor`: by default a process pool of ``jobs``
workers (one BLAS thread each) or, with ``jobs=1``, the calling process; a dask.distributed
``Client.get_executor()`` works unchanged.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import itertools
import json
import math
import multiprocessing
import os
import pathlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["grid", "load_table", "run_grid", "save_table"]

Row = dict


def grid(**axes: Iterable) -> list[dict]:
    """The Cartesian product of named axes as a list of points, the last axis varying fastest.

    ``grid(lr=[0.1, 0.2], seed=range(3))`` gives six dicts ``{"lr": ..., "seed": ...}``.
    """
    names = list(axes)
    values = [list(v) for v in axes.values()]
    for name, vals in zip(names, values, strict=True):
        if not vals:
            raise ValueError(f"grid: axis {name!r} is empty")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def _rows_of(point: Mapping, result) -> list[Row]:
    if isinstance(result, Mapping):
        result = [result]
    if not isinstance(result, Sequence) or not all(isinstance(r, Mapping) for r in result):
        raise TypeError(f"run_grid: the task must return a dict or a list of dicts, got {type(result).__name__}")
    rows = []
    for r in result:
        clash = [k for k in r if k in point and r[k] != point[k]]
        if clash:
            raise ValueError(f"run_grid: the task's result overwrites the grid keys {clash}")
        rows.append({**point, **r})
    return rows


def _init_worker(threads: int) -> None:
    from threadpoolctl import threadpool_limits

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    threadpool_limits(limits=threads, user_api="blas")


def _default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods and sys.platform != "darwin" else "spawn"


def run_grid(
    task: Callable[[dict], Mapping | Sequence[Mapping]],
    points: Iterable[Mapping],
    *,
    executor: cf.Executor | None = None,
    jobs: int | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[Row]:
    """Run ``task`` on every point and return the tidy rows, in the order of the points.

    Parameters
    ----------
    task : callable
        ``task(point) -> dict | list[dict]``, a module-level function (picklable).
    points : iterable of dict
        The grid (see :func:`grid`).
    executor : concurrent.futures.Executor, optional
        Used as it is and not shut down (a thread pool, a process pool, a dask client's executor).
    jobs : int, optional
        Without an executor: the number of worker processes (default: the cores, at most the
        number of points); ``jobs=1`` runs in the calling process.
    progress : bool
        A tqdm bar over finished points (written to stderr).
    desc : str, optional
        The bar's label.
    """
    points = [dict(p) for p in points]
    if not callable(task):
        raise TypeError(f"run_grid: task must be callable, got {type(task).__name__}")
    if executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(f"run_grid: executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"run_grid: jobs must be a positive integer, got {jobs!r}")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(points), desc=desc or getattr(task, "__name__", "grid"), disable=not progress, leave=False)
    results: list = [None] * len(points)
    try:
        if executor is None and (jobs == 1 or len(points) <= 1):
            for i, p in enumerate(points):
                results[i] = _rows_of(p, task(dict(p)))
                bar.update()
        else:
            own = None
            if executor is None:
                workers = min(jobs or os.cpu_count() or 1, len(points))
                own = cf.ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context(_default_start_method()),
                    initializer=_init_worker,
                    initargs=(1,),
                )
                executor = own
            try:
                futures = {executor.submit(task, dict(p)): i for i, p in enumerate(points)}
                for fut in cf.as_completed(futures):
                    i = futures[fut]
                    results[i] = _rows_of(points[i], fut.result())
                    bar.update()
            except BaseException:
                if own is not None:
                    own.shutdown(wait=False, cancel_futures=True)
                raise
            if own is not None:
                own.shutdown(wait=True)
    finally:
        bar.close()
    return [row for rows in results for row in rows]


def _jsonable(v):
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # "nan", "inf", "-inf": JSON has no literal for them
    return v


def _parse(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def save_table(rows: Sequence[Mapping], path: str | os.PathLike) -> pathlib.Path:
    """Write tidy rows to ``path`` (``.csv`` or ``.json`` by suffix); returns the path.

    Columns are the union of the rows' keys in first-seen order; values must be scalars
    (numbers, strings, booleans, None). Non-finite floats survive the round trip.
    """
    path = pathlib.Path(path)
    columns: list[str] = []
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    for r in rows:
        for k, v in r.items():
            if isinstance(v, Mapping | list | tuple | set) or getattr(v, "ndim", 0) > 0:
                raise TypeError(f"save_table: column {k!r} holds a {type(v).__name__}; tidy tables hold scalars")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        data = {"columns": columns, "rows": [[_jsonable(r.get(c)) for c in columns] for r in rows]}
        path.write_text(json.dumps(data, indent=1) + "\n")
    elif path.suffix == ".csv":
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for r in rows:
                writer.writerow(["" if r.get(c) is None else _jsonable(r.get(c)) for c in columns])
    else:
        raise ValueError(f"save_table: path must end in .csv or .json, got {path.name!r}")
    return path


def load_table(path: str | os.PathLike) -> list[Row]:
    """Read rows written by :func:`save_table` (numbers come back as int/float, ``nan``/``inf`` too)."""
    path = pathlib.Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        rows = [dict(zip(data["columns"], vals, strict=True)) for vals in data["rows"]]
        for r in rows:
            for k, v in r.items():
                if v in ("nan", "inf", "-inf"):
                    r[k] = float(v)
        return rows
    if path.suffix == ".csv":
        with path.open(newline="") as fh:
            return [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    raise ValueError(f"load_table: path must end in .csv or .json, got {path.name!r}")


def _demo_task(point):  # used by the module's doctest
    return {"y": 2 * point["x"]}
