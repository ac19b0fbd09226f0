"""Weights in and out: a chain of layers ``(W_1, ..., W_N)`` read from and written to ``.npz`` files
(numpy only) or ``.safetensors`` files (the ``safetensors`` package's numpy API; the optional extra
``pip install 'dln-git[safetensors]'``), without pickle.

Files hold named arrays. The chain is chosen by

* nothing: the names ``W_1, ..., W_N`` (what :func:`save_weights` writes), in that order;
* a list of names, in math order (the first is ``W_1``, applied first);
* one glob pattern (``"encoder.*.weight"``): the matching names in natural order
  (``layer2`` before ``layer10``).

Each array must be 2-D, in the package's convention ``W_i.shape == (d_i, d_{i-1})`` (a torch
``nn.Linear.weight`` already is); consecutive shapes must chain.

**Arrays from torch or JAX.** Every function that takes weights (:func:`save_weights`,
:func:`dln_git.balance`, the flows, ...) accepts a list of tensors directly: each layer is read
through the DLPack protocol (``__dlpack__``, :func:`numpy.from_dlpack`) or else ``__array__``, and
copied, so results never share memory with the tensors. These two calls are equivalent::

    balance([w.detach().cpu().numpy() for w in layers])   # converted by hand
    balance([w.detach() for w in layers])                 # tensors passed directly

A tensor that requires grad must be detached and a GPU tensor moved to the CPU first; both protocols
refuse them otherwise, and the error names the layer. Results are numpy arrays; turn them back with
``torch.from_numpy(a)`` or ``jax.numpy.asarray(a)``. Whole result objects (balancing, flows,
training, verify reports) are saved and loaded by :mod:`dln_git.results_io`.
"""

from __future__ import annotations

import fnmatch
import os
import pathlib
import re
import secrets
from collections.abc import Sequence

import numpy as np

from .core.validation import as_weights

__all__ = ["default_names", "load_named_weights", "load_weights", "save_weights"]

_SUFFIXES = (".npz", ".safetensors")


def default_names(n: int) -> list[str]:
    """``["W_1", ..., "W_n"]``."""
    return [f"W_{i}" for i in range(1, n + 1)]


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _suffix(path: pathlib.Path) -> str:
    if path.suffix not in _SUFFIXES:
        raise ValueError(f"weights file must end in .npz or .safetensors, got {path.name!r}")
    return path.suffix


def _safetensors_numpy():
    try:
        import safetensors.numpy as stn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading or writing .safetensors needs the safetensors package: "
                          "pip install 'dln-git[safetensors]'") from exc
    return stn


def _read_all(path: pathlib.Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if _suffix(path) == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name]) for name in data.files}
    return {name: np.array(a) for name, a in _safetensors_numpy().load_file(str(path)).items()}


def _select(names: list[str], layers) -> list[str]:
    if layers is None:
        chain = []
        while f"W_{len(chain) + 1}" in names:
            chain.append(f"W_{len(chain) + 1}")
        if not chain:
            raise ValueError(f"the file has no layers named W_1, W_2, ...; pass layers= (names or a pattern); "
                             f"it holds {sorted(names)}")
        return chain
    if isinstance(layers, str):
        chain = sorted(fnmatch.filter(names, layers), key=_natural_key)
        if not chain:
            raise ValueError(f"layers pattern {layers!r} matches none of {sorted(names)}")
        return chain
    chain = list(layers)
    missing = [n for n in chain if n not in names]
    if missing:
        raise ValueError(f"layers {missing} are not in the file, which holds {sorted(names)}")
    if not chain:
        raise ValueError("layers must name at least one array")
    return chain


def load_weights(path: str | os.PathLike, layers: str | Sequence[str] | None = None) -> tuple[np.ndarray, ...]:
    """The weights of :func:`load_named_weights` (without the names)."""
    return load_named_weights(path, layers)[1]


def load_named_weights(path: str | os.PathLike, layers: str | Sequence[str] | None = None):
    """Read the chain ``(W_1, ..., W_N)`` from an ``.npz`` or ``.safetensors`` file.

    Parameters
    ----------
    path : path-like
    layers : None, str or sequence of str
        ``None``: the names ``W_1..W_N``; a glob pattern; or the names in math order (see the module
        docstring).

    Returns
    -------
    (names, weights) : list of str, tuple of ndarray
        The names chosen, and the validated weights (2-D, finite, chaining shapes) as float64 or
        complex128 copies.
    """
    path = pathlib.Path(path)
    arrays = _read_all(path)
    chain = _select(list(arrays), layers)
    bad = [f"{n} has shape {arrays[n].shape}" for n in chain if arrays[n].ndim != 2]
    if bad:
        raise ValueError(f"layers must be 2-D matrices (d_i, d_(i-1)): {'; '.join(bad)}")
    return chain, as_weights(tuple(arrays[n] for n in chain))


def save_weights(path: str | os.PathLike, W, names: Sequence[str] | None = None) -> pathlib.Path:
    """Write the chain to ``path`` (``.npz`` or ``.safetensors``) under ``names`` (default
    ``W_1..W_N``); returns the path. The file is written to a temporary name and renamed, so an
    interrupted write leaves no half file."""
    path = pathlib.Path(path)
    suffix = _suffix(path)
    W = as_weights(W)
    names = default_names(len(W)) if names is None else list(names)
    if len(names) != len(W) or len(set(names)) != len(names):
        raise ValueError(f"names must be {len(W)} distinct strings, one per layer, got {names}")
    tensors = {n: np.ascontiguousarray(w) for n, w in zip(names, W, strict=True)}
    if suffix == ".npz":
        return write_atomically(path, lambda tmp: savez_file(tmp, tensors))
    return write_atomically(path, lambda tmp: _safetensors_numpy().save_file(tensors, str(tmp)))


def savez_file(path: pathlib.Path, arrays: dict) -> None:
    """``numpy.savez`` of ``arrays`` to exactly ``path`` (no ``.npz`` appended)."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def write_atomically(path: pathlib.Path, write) -> pathlib.Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` (same suffix), then rename it to
    ``path`` (:func:`os.replace`): an interrupted write leaves no half file and an existing file is
    replaced whole. The temporary file is removed on any error. Returns ``path``."""
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
