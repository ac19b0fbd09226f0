"""Input validation: every public function turns its arguments into checked numpy data here.

Weights are a sequence ``(W_1, ..., W_N)`` of 2-D arrays, ``W_i`` of shape ``(d_i, d_{i-1})``;
Lie algebra elements and gauge elements are sequences ``(xi_1, ..., xi_{N-1})`` of square
``d_i x d_i`` arrays (hidden layers only). Errors name the layer, the expected and the actual
shape.

Arrays from other libraries (torch tensors, JAX arrays, CuPy host arrays, ...) are accepted
wherever a matrix is: through the DLPack protocol (``__dlpack__``, read with
:func:`numpy.from_dlpack`) or else through ``__array__``, and always copied, so a result never
shares memory with the caller's tensor. A torch tensor that requires grad must be detached and a
GPU one moved to the CPU first (both protocols refuse them otherwise; the error says so).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_depth",
    "as_lie_algebra",
    "as_matrix",
    "as_tangent",
    "as_weights",
    "as_widths",
    "fresh",
    "widths_of",
]


def _from_foreign(A, label: str) -> np.ndarray:
    """A numpy copy of an array of another library, through DLPack or ``__array__``."""
    errors = []
    if hasattr(A, "__dlpack__"):
        try:
            return np.from_dlpack(A).copy()
        except (BufferError, TypeError, ValueError, RuntimeError) as exc:
            errors.append(f"DLPack: {exc}")
    if hasattr(A, "__array__"):
        try:
            return np.asarray(A).copy()  # copied here: __array__ may return its own buffer
        except (TypeError, ValueError, RuntimeError) as exc:
            errors.append(f"__array__: {exc}")
    raise TypeError(f"{label} ({type(A).__module__}.{type(A).__qualname__}) could not be read as a numpy array "
                    f"({'; '.join(errors)}); detach it from autograd and move it to the CPU first")


def as_matrix(A, label: str = "X") -> np.ndarray:
    """Return ``A`` as a finite, non-empty 2-D float64 or complex128 array.

    ``A`` may be an array of another library (torch, JAX, ...): it is read through DLPack
    (``__dlpack__``) or ``__array__`` and copied.

    Raises
    ------
    TypeError
        If ``A`` is not numeric (booleans, strings and objects are rejected).
    ValueError
        If ``A`` is not 2-D, is empty, or contains NaN or inf.
    """
    if not isinstance(A, np.ndarray) and (hasattr(A, "__dlpack__") or hasattr(A, "__array__")):
        A = _from_foreign(A, label)
    try:
        a = np.asarray(A)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{label} is not a rectangular array: {exc}") from None
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{label} must be a numeric array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(
            f"{label} must be a 2-D array, got {a.ndim} dimension(s) (shape {a.shape})"
        )
    if a.size == 0:
        raise ValueError(f"{label} is empty (shape {a.shape}): every width must be positive")
    dtype = np.complex128 if np.iscomplexobj(a) else np.float64
    a = np.asarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ValueError(f"{label} contains NaN or inf")
    return a


def _as_matrices(seq, name: str, what: str) -> tuple[np.ndarray, ...]:
    if isinstance(seq, np.ndarray) and seq.ndim == 2:
        raise TypeError(
            f"{name} must be a sequence of 2-D arrays ({what}), got a single 2-D array; "
            f"for one matrix pass ({name},)"
        )
    if isinstance(seq, (str, bytes)) or not isinstance(seq, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence of 2-D arrays ({what}), got {type(seq).__name__}"
        )
    mats = [as_matrix(m, f"{name}_{i}") for i, m in enumerate(seq, start=1)]
    if mats and any(np.iscomplexobj(m) for m in mats):
        mats = [m.astype(np.complex128, copy=False) for m in mats]
    return tuple(mats)


def as_weights(W, name: str = "W") -> tuple[np.ndarray, ...]:
    """Validate weights ``(W_1, ..., W_N)``: 2-D, finite, neighbouring shapes chain.

    ``W_i`` must have shape ``(d_i, d_{i-1})``, so ``W_{i+1}`` needs ``W_i.shape[0]`` columns.
    All layers are returned with one common dtype (complex128 if any layer is complex).
    """
    mats = _as_matrices(W, name, "W_1, ..., W_N")
    if not mats:
        raise ValueError(f"{name} is empty: a network needs at least one layer (depth N >= 1)")
    for i in range(1, len(mats)):
        prev, cur = mats[i - 1], mats[i]
        if cur.shape[1] != prev.shape[0]:
            raise ValueError(
                f"layer {i + 1}: {name}_{i + 1} has shape {cur.shape} but {name}_{i} has shape "
                f"{prev.shape}, so {name}_{i + 1} must have {prev.shape[0]} columns "
                f"(expected shape ({cur.shape[0]}, {prev.shape[0]}))"
            )
    return mats


def widths_of(W) -> tuple[int, ...]:
    """Widths ``(d_0, d_1, ..., d_N)`` of weights ``W``, after validating them.

    ``d_0 = W_1.shape[1]`` and ``d_i = W_i.shape[0]``.
    """
    mats = as_weights(W)
    return (mats[0].shape[1], *(m.shape[0] for m in mats))


def _widths(mats: Sequence[np.ndarray]) -> tuple[int, ...]:
    return (mats[0].shape[1], *(m.shape[0] for m in mats))


def as_widths(widths, name: str = "widths") -> tuple[int, ...]:
    """Validate a width pattern ``(d_0, ..., d_N)``: at least two positive integers."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of positive integers, got {widths!r}")
    out = []
    for k, d in enumerate(widths):
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{name}[{k}] = {d!r} is not an integer")
        if d <= 0:
            raise ValueError(f"{name}[{k}] = {d} is not positive: every width must be >= 1")
        out.append(int(d))
    if len(out) < 2:
        raise ValueError(
            f"{name} = {tuple(out)} has {len(out)} entries: need (d_0, ..., d_N) with depth N >= 1"
        )
    return tuple(out)


def as_depth(depth, name: str = "depth") -> int:
    """Validate a depth ``N >= 1``."""
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {depth!r}")
    if depth < 1:
        raise ValueError(f"{name} = {depth}: the depth N must be >= 1")
    return int(depth)


def as_tangent(V, widths: Sequence[int], name: str = "V") -> tuple[np.ndarray, ...]:
    """Validate a weight-space vector ``(V_1, ..., V_N)`` with ``V_i`` of shape ``(d_i, d_{i-1})``."""
    mats = _as_matrices(V, name, "V_1, ..., V_N")
    depth = len(widths) - 1
    if len(mats) != depth:
        raise ValueError(f"{name} has {len(mats)} layers, expected {depth} (one per weight)")
    for i, m in enumerate(mats, start=1):
        expected = (widths[i], widths[i - 1])
        if m.shape != expected:
            raise ValueError(f"layer {i}: {name}_{i} has shape {m.shape}, expected {expected}")
    return mats


def as_lie_algebra(xi, widths: Sequence[int], name: str = "xi") -> tuple[np.ndarray, ...]:
    """Validate a hidden-layer tuple ``(xi_1, ..., xi_{N-1})`` with ``xi_i`` of shape ``(d_i, d_i)``.

    Used for Lie algebra elements and for gauge group elements alike.
    """
    depth = len(widths) - 1
    if depth == 1 and isinstance(xi, (Sequence, np.ndarray)) and len(xi) == 0:
        return ()
    mats = _as_matrices(xi, name, "one square matrix per hidden layer")
    if len(mats) != depth - 1:
        raise ValueError(
            f"{name} has {len(mats)} entries, expected {depth - 1} (one per hidden layer, "
            f"widths {tuple(widths)})"
        )
    for i, m in enumerate(mats, start=1):
        expected = (widths[i], widths[i])
        if m.shape != expected:
            raise ValueError(f"hidden layer {i}: {name}_{i} has shape {m.shape}, expected {expected}")
    return mats


def fresh(arrays, *inputs) -> tuple[np.ndarray, ...]:
    """``arrays`` as a tuple, each copied if it may share memory with an array in ``inputs``.

    Every public function returns results that never share memory with its inputs; early-return
    paths (depth 1, zero weights, nothing to do) pass their output through here.
    """
    flat = [m for group in inputs for m in (group if isinstance(group, (tuple, list)) else (group,))]
    out = []
    for a in arrays:
        a = np.asarray(a)
        if any(np.may_share_memory(a, m) for m in flat if isinstance(m, np.ndarray)):
            a = a.copy()
        out.append(a)
    return tuple(out)
