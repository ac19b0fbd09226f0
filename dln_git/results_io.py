"""Result objects in and out: :func:`save_result` writes any dln-git result (balancing, flows,
training, systems, gauge balancing, ``dln-git verify`` reports, ...) to one ``.npz`` file and
:func:`load_result` reads it back as an equal object (:func:`results_equal`), without pickle.
:func:`load_result` also reads the JSON report of ``dln-git verify --report FILE.json`` back into an
equal :class:`~dln_git.claims.VerifyReport`.

**The file.** A numpy ``.npz`` archive (read with ``allow_pickle=False``) holding

* ``__result__``: the UTF-8 bytes (a uint8 array) of a JSON document
  ``{"format": "dln-git-result", "version": 1, "type": "dln_git.flows.BalanceResult", "value": ...}``;
* ``array_0, array_1, ...``: every numpy array of the result, any shape and dtype (float, complex,
  int, bool, unicode; object arrays are refused), bit for bit. numpy scalars (``np.float64``,
  ``np.bool_``, ...) are stored as 0-d arrays, so they come back with their type.

The JSON value is a tree over the result's :func:`dataclasses.fields` (every field, those hidden
from ``repr`` or comparison included). Python scalars and strings are plain JSON (non-finite
floats as ``{"float": "nan"}``, complex numbers as ``{"complex": [re, im]}``); tuples, lists and
dicts keep their kind (``{"tuple": [...]}``, ``[...]``, ``{"dict": [[key, value], ...]}``); a
nested dataclass is ``{"dataclass": name, "fields": {...}}``.

**Which types load.** Only the result types listed in :data:`RESULT_TYPES`, by their public
name (the package that exports them, so moving a class between modules does not break old files).
A file naming any other type is refused: loading never imports a name taken from the file. Objects
are rebuilt field by field without calling ``__init__`` (the saved state is the state after
construction); a field that the class has gained since the file was written takes its default, and
a field without a default that the file lacks is an error naming it. A new result type is saved
once its public name is added to :data:`RESULT_TYPES` (and a test builds one).

**What is not saved.** Callables. The one result field that holds a function, the ``check`` of a
:class:`~dln_git.claims.Claim` inside a verify report, is saved as the claim's id and the module
that defined it; loading takes the check of the claim registered under that id in the loading
process (the built-in claims are always registered). A claim not registered there gets a
placeholder check that raises when called (the report still renders and its rerun command still
names the module). Any other callable, and any value of a type not described above, makes
:func:`save_result` raise a ``TypeError`` naming the field by its path (e.g. ``result.trajectory[3][0]``).
Not covered: results holding sympy expressions (``IdentityReport``, ``WickCorrelator``), since
reading them back would mean evaluating text.

Examples
--------
>>> import numpy as np, dln_git, tempfile, pathlib
>>> from dln_git.results_io import load_result, results_equal, save_result
>>> W = (np.array([[1.0, 2.0]]), np.array([[3.0], [0.5]]))
>>> result = dln_git.balance(W)
>>> path = save_result(pathlib.Path(tempfile.mkdtemp()) / "balanced.npz", result)
>>> results_equal(load_result(path), result)
True
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import math
import os
import pathlib

import numpy as np

from .io import savez_file, write_atomically

__all__ = ["FORMAT_VERSION", "RESULT_TYPES", "load_result", "results_equal", "save_result"]

#: Version of the file layout written by :func:`save_result`; files of a later version are refused.
FORMAT_VERSION = 1
_FORMAT = "dln-git-result"
_META = "__result__"

#: The types :func:`save_result` writes and :func:`load_result` rebuilds, by public name: the
#: results of the public functions and the dataclasses nested in them.
RESULT_TYPES = (
    "dln_git.core.GramSolution", "dln_git.core.MetricSolution", "dln_git.core.Regime",
    "dln_git.flows.BalanceResult", "dln_git.flows.FlowResult", "dln_git.flows.GeometricMeanBalance",
    "dln_git.decomposition.TrainResult", "dln_git.decomposition.LearningFlowResult",
    "dln_git.decomposition.FastSlowResult", "dln_git.decomposition.FastSlowDistance", "dln_git.decomposition.Split",
    "dln_git.decomposition.LossGradient",
    "dln_git.systems.StateSpace", "dln_git.systems.BalancedRealization", "dln_git.systems.TruncationResult",
    "dln_git.systems.Gramians", "dln_git.systems.StableSplit", "dln_git.systems.NetworkReduction",
    "dln_git.systems.MapResult", "dln_git.systems.ProductPriorTest", "dln_git.systems.PosteriorSample",
    "dln_git.systems.ConcentrationTrend",
    "dln_git.symmetries.BalanceResult", "dln_git.symmetries.HomogeneousNet", "dln_git.symmetries.PenaltyFlowResult",
    "dln_git.symmetries.GaugeCoordinates",
    "dln_git.symbolic.ConservationLawCount",
    "dln_git.claims.VerifyReport", "dln_git.claims.ClaimSummary", "dln_git.claims.InstanceRun",
    "dln_git.claims.ClaimRun", "dln_git.claims.ClaimResult", "dln_git.claims.Claim",
)
_CLAIM = "dln_git.claims.Claim"


@functools.cache
def _resolve(name: str) -> type:
    """The class registered as ``name`` (only names of :data:`RESULT_TYPES` get here)."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _name_of(cls: type) -> str | None:
    for name in RESULT_TYPES:
        if name.rpartition(".")[2] == cls.__name__ and _resolve(name) is cls:
            return name
    return None


# -- writing -----------------------------------------------------------------------------------


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, a: np.ndarray, where: str) -> str:
        if a.dtype.hasobject:
            raise TypeError(f"{where} is an array of Python objects (dtype object), which is not saved without pickle")
        key = f"array_{len(self.arrays)}"
        self.arrays[key] = a
        return key

    def value(self, x, where: str):
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, np.ndarray):
            return {"array": self._store(x, where)}
        if isinstance(x, np.generic):
            return {"scalar": self._store(np.asarray(x), where)}
        if isinstance(x, int):
            return x
        if isinstance(x, float):
            return x if math.isfinite(x) else {"float": repr(x)}
        if isinstance(x, complex):
            return {"complex": [self.value(x.real, where), self.value(x.imag, where)]}
        if type(x) is tuple:
            return {"tuple": [self.value(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if type(x) is list:
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if type(x) is dict:
            return {"dict": [[self.value(k, f"{where} key"), self.value(v, f"{where}[{k!r}]")] for k, v in x.items()]}
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return self.dataclass(x, where)
        what = "a callable" if callable(x) else f"a {type(x).__module__}.{type(x).__qualname__}"
        raise TypeError(f"{where} is {what}, which save_result cannot store (arrays, numbers, strings, "
                        f"tuples, lists, dicts and dln-git result dataclasses only)")

    def dataclass(self, x, where: str) -> dict:
        name = _name_of(type(x))
        if name is None:
            raise TypeError(f"{where} is a {type(x).__module__}.{type(x).__qualname__}, which is not a registered "
                            f"result type (dln_git.results_io.RESULT_TYPES)")
        fields = {}
        for f in dataclasses.fields(x):
            v = getattr(x, f.name)
            if name == _CLAIM and f.name == "check":
                fields[f.name] = {"check_of_claim": x.id, "module": getattr(v, "__module__", None)}
            else:
                fields[f.name] = self.value(v, f"{where}.{f.name}")
        return {"dataclass": name, "fields": fields}


def save_result(path: str | os.PathLike, result) -> pathlib.Path:
    """Write ``result`` (an instance of one of :data:`RESULT_TYPES`) to the ``.npz`` file ``path``.

    The file is written to a temporary name in the same directory and renamed, so an interrupted
    write leaves no half file (and an existing file is replaced whole). See the module docstring
    for the layout.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.npz``.
    TypeError
        If ``result`` is not a registered result type, or one of its fields holds something that
        cannot be stored without pickle (the message names the field).
    """
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"result file must end in .npz, got {path.name!r}")
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        raise TypeError(f"result must be a dln-git result object, got {type(result).__name__}")
    encoder = _Encoder()
    tree = encoder.dataclass(result, "result")
    meta = {"format": _FORMAT, "version": FORMAT_VERSION, "type": tree["dataclass"], "value": tree}
    text = json.dumps(meta, allow_nan=False, ensure_ascii=False)
    entries = {_META: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **encoder.arrays}
    return write_atomically(path, lambda tmp: savez_file(tmp, entries))


# -- reading -----------------------------------------------------------------------------------


def _unregistered_check(claim_id: str, module: str | None):
    def check(rng, size):
        raise RuntimeError(f"the check of claim {claim_id!r} was not saved with the report and no claim of that "
                           f"id is registered in this process" + (f" (import {module} first)" if module else ""))

    check.__module__ = module or __name__
    check.__qualname__ = check.__name__ = f"unregistered_check[{claim_id}]"
    return check


def _claim_check(fields: dict, encoded: dict):
    from .claims.registry import _REGISTRY, all_claims

    all_claims()  # registers the built-in claims
    registered = _REGISTRY.get(encoded["check_of_claim"])
    same = registered is not None and all(
        getattr(registered, k) == fields[k] for k in ("id", "statement", "section", "tag", "sizes") if k in fields)
    return registered.check if same else _unregistered_check(encoded["check_of_claim"], encoded.get("module"))


class _Decoder:
    def __init__(self, arrays, path: str):
        self.arrays, self.path = arrays, path

    def _error(self, where: str, message: str) -> ValueError:
        return ValueError(f"result file {self.path!r}, {where}: {message}")

    def _array(self, key, where: str) -> np.ndarray:
        if not isinstance(key, str) or key == _META or key not in self.arrays.files:
            raise self._error(where, f"refers to a missing array {key!r}")
        return np.array(self.arrays[key])

    def value(self, x, where: str):
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if not isinstance(x, dict) or len(x) not in (1, 2):
            raise self._error(where, f"cannot read the entry {str(x)[:80]}")
        kind = next(iter(x))
        if kind == "array":
            return self._array(x["array"], where)
        if kind == "scalar":
            return self._array(x["scalar"], where)[()]
        if kind == "float":
            return float(x["float"])
        if kind == "complex":
            re, im = (self.value(v, where) for v in x["complex"])
            return complex(re, im)
        if kind == "tuple":
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(x["tuple"]))
        if kind == "dict":
            return {self.value(k, f"{where} key"): self.value(v, f"{where}[{k!r}]") for k, v in x["dict"]}
        if kind == "dataclass":
            return self.dataclass(x, where)
        raise self._error(where, f"unknown entry kind {kind!r}")

    def dataclass(self, x: dict, where: str):
        name = x.get("dataclass")
        if name not in RESULT_TYPES:
            raise self._error(where, f"type {name!r} is not a registered result type (dln_git.results_io.RESULT_TYPES)")
        cls = _resolve(name)
        saved = x.get("fields", {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(saved) - set(known))
        if unknown:
            raise self._error(where, f"fields {unknown} are not fields of {name} (a file from a newer dln-git?)")
        values = {}
        for fname, f in known.items():
            if fname in saved and name == _CLAIM and fname == "check":
                continue
            if fname in saved:
                values[fname] = self.value(saved[fname], f"{where}.{fname}")
            elif f.default is not dataclasses.MISSING:
                values[fname] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                values[fname] = f.default_factory()
            else:
                raise self._error(where, f"field {fname!r} of {name} is missing and has no default")
        if name == _CLAIM and "check" in saved:
            values["check"] = _claim_check(values, saved["check"])
        obj = object.__new__(cls)
        for fname, v in values.items():
            object.__setattr__(obj, fname, v)
        return obj


def _json_float(x):
    return float(x) if isinstance(x, str) else x  # non-finite figures are written as "inf", "nan"


def _report_from_json(data: dict, path: str):
    """The :class:`~dln_git.claims.VerifyReport` of a JSON report (``dln-git verify --report x.json``)."""
    from .claims import Claim, ClaimResult, ClaimSummary, InstanceRun, VerifyReport
    from .claims.registry import _REGISTRY, all_claims

    all_claims()
    try:
        settings, summaries = data["settings"], []
        for c in data["claims"]:
            registered = _REGISTRY.get(c["id"])
            same = registered is not None and (registered.statement, registered.section, registered.tag) == (
                c["statement"], c["section"], c["tag"])
            claim = registered if same else Claim(c["id"], c["statement"], c["section"], c["tag"],
                                                  _unregistered_check(c["id"], None))
            runs = tuple(
                InstanceRun(c["id"], r["index"], r["seed"], r["size"], r["check_size"],
                            None if r["measured"] is None else ClaimResult(
                                _json_float(r["measured"]), _json_float(r["expected"]), _json_float(r["tolerance"]),
                                passed=r["verdict"] == "PASS", detail=r["detail"]),
                            r["error"], r["seconds"])
                for r in c["runs"])
            summaries.append(ClaimSummary(claim, runs))
        patterns = settings["patterns"]
        return VerifyReport(tuple(summaries), None if patterns is None else tuple(patterns), settings["seed"],
                            settings["seeds"], settings["size"], settings["execution"], data["started"],
                            data["wall_seconds"], dict(data.get("versions", {})))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"JSON report {path!r} lacks or garbles the entry {exc}") from None


def load_result(path: str | os.PathLike):
    """Read a result written by :func:`save_result`, or a JSON report of ``dln-git verify``.

    A ``.json`` file is read as the report ``dln-git verify --report FILE.json`` (or
    :meth:`~dln_git.claims.VerifyReport.write`) wrote: the :class:`~dln_git.claims.VerifyReport`
    comes back ``==`` to the one written (claims found in the registry by id; figures exact, as JSON
    keeps every digit of a float; a claim not registered in this process gets a placeholder check).

    Returns
    -------
    object
        A new instance of the saved type (one of :data:`RESULT_TYPES`), equal to the saved one
        in the sense of :func:`results_equal`; fields added to the type after the file was written
        take their defaults.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a dln-git result file, is of a later format version, names a type that
        is not registered, or lacks a field that has no default (the message names the path and
        the field).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"result file {str(path)!r} does not exist")
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("tool") != "dln-git verify":
            raise ValueError(f"{str(path)!r} is not a dln-git verify report (JSON results are verify reports; "
                             f"other results are saved as .npz by save_result)")
        return _report_from_json(data, str(path))
    with np.load(path, allow_pickle=False) as arrays:
        if _META not in arrays.files:
            raise ValueError(f"{str(path)!r} is not a dln-git result file (no {_META!r} entry; weights files "
                             f"are read with dln_git.io.load_weights)")
        meta = json.loads(np.asarray(arrays[_META], dtype=np.uint8).tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError(f"{str(path)!r} is not a dln-git result file (format {meta.get('format')!r})")
        version = meta.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"result file {str(path)!r} has format version {version!r}; this dln-git reads "
                             f"versions up to {FORMAT_VERSION}")
        return _Decoder(arrays, str(path)).dataclass(meta["value"], "result")


# -- comparing ---------------------------------------------------------------------------------


def results_equal(a, b) -> bool:
    """Whether two results are equal field by field, recursively.

    Arrays are equal when dtype, shape and entries agree (NaN equal to NaN); scalars when type
    and value agree (NaN equal to NaN); tuples, lists and dicts element by element; dataclasses
    of the same type field by field over every field (those with ``compare=False`` included);
    functions (a claim's check) by identity.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        nan_aware = np.issubdtype(a.dtype, np.inexact)
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=nan_aware))
    if isinstance(a, (complex, np.complexfloating)):
        return results_equal(a.real, b.real) and results_equal(a.imag, b.imag)
    if isinstance(a, (float, np.floating)):
        return bool(a == b) or bool(np.isnan(a) and np.isnan(b))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(results_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(results_equal(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(results_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if callable(a):
        return a is b
    return bool(a == b)
