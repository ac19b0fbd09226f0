"""Explicit symbolic matrices for the symbolic layer (docs/math section 1).

Every weight ``W_i`` (shape ``(d_i, d_{i-1})``) and every Lie algebra block ``xi_i``
(shape ``(d_i, d_i)``) is an explicit :class:`sympy.Matrix` with one symbol per entry. We never use
``MatrixSymbol`` calculus: its derivatives have been silently wrong in several sympy releases,
whereas derivatives of polynomials in plain real symbols are exact.

Symbol names
------------
Names are parseable (:func:`parse_symbol_name`) and use numpy's 0-based row/column indices,
with the 1-based layer number of docs/math:

* real case: entry ``[a, b]`` of ``W_i`` is the real symbol ``w{i}_{a}_{b}``, e.g. ``w1_0_2`` for
  layer 1, row 0, column 2; Lie algebra entries are ``xi{i}_{a}_{b}``;
* complex case: entry ``[a, b]`` is ``w{i}_{a}_{b}_re + I*w{i}_{a}_{b}_im`` with two **real**
  symbols.

Why real and imaginary parts rather than complex symbols with ``conjugate``: the moment map is
the derivative of the real function ``R`` for the real inner product ``<A, B> = Re tr(A^* B)``,
i.e. a derivative in the real coordinates of ``gl(d, C) = R^{2 d^2}``. With real symbols,
``conjugate(x + I*y)`` evaluates to ``x - I*y`` exactly, every expression is a polynomial with
Gaussian-integer coefficients in real variables, ``expand`` decides whether it is zero, and
``diff`` with respect to ``x`` and ``y`` is the ordinary real partial derivative. With complex
symbols ``z``, sympy treats ``z`` and ``conjugate(z)`` as unrelated to differentiation (it has no
Wirtinger calculus), so a derivative of ``|z|^2`` would be wrong or unevaluated.

The prefix (``"w"``, ``"xi"``, ...) must consist of ASCII letters only, so that the layer number
that follows it can be read back unambiguously.

LaTeX names (see :mod:`dln_git.symbolic.latex`) are 1-based, as in papers: ``w1_0_2`` prints as
``w^{(1)}_{13}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import sympy

from dln_git.core.options import Rule, check_options
from dln_git.core.validation import as_widths

from .polyalgebra import PolyAlgebra, PolyMatrix, _algebra_for, _back, _fast  # noqa: F401 (re-exported)

__all__ = [
    "DEFAULT_MAX_SYMBOLS",
    "PolyAlgebra",
    "PolyMatrix",
    "SymbolName",
    "check_symbol_budget",
    "conjugate_transpose",
    "evaluate",
    "is_zero",
    "lie_algebra_symbol_count",
    "matrix_symbols",
    "parse_symbol_name",
    "substitution",
    "symbol_name",
    "symbolic_end_to_end",
    "symbolic_lie_algebra",
    "symbolic_weights",
    "weight_symbol_count",
]

#: Default largest number of real symbols one call may create. Symbolic expansion cost grows
#: quickly with the number of symbols; raise the limit per call with ``max_symbols=``.
DEFAULT_MAX_SYMBOLS = 400

_PREFIX_RE = re.compile(r"[A-Za-z]+")
_NAME_RE = re.compile(r"(?P<prefix>[A-Za-z]+)(?P<layer>\d+)_(?P<row>\d+)_(?P<col>\d+)(?:_(?P<part>re|im))?")


class SymbolName(NamedTuple):
    """Parsed symbol name: ``prefix``, 1-based ``layer``, 0-based ``row`` and ``col``, and
    ``part`` (``None`` for a real entry, ``"re"`` or ``"im"`` for a part of a complex entry)."""

    prefix: str
    layer: int
    row: int
    col: int
    part: str | None


def symbol_name(prefix: str, layer: int, row: int, col: int, part: str | None = None) -> str:
    """Name of one entry symbol: ``f"{prefix}{layer}_{row}_{col}"`` plus ``"_re"``/``"_im"``."""
    base = f"{prefix}{layer}_{row}_{col}"
    return base if part is None else f"{base}_{part}"


def parse_symbol_name(name) -> SymbolName | None:
    """Inverse of :func:`symbol_name`; ``None`` if ``name`` (a str or a Symbol) does not follow it.

    >>> parse_symbol_name("w1_0_2")
    SymbolName(prefix='w', layer=1, row=0, col=2, part=None)
    """
    if isinstance(name, sympy.Symbol):
        name = name.name
    m = _NAME_RE.fullmatch(str(name))
    if m is None:
        return None
    return SymbolName(m["prefix"], int(m["layer"]), int(m["row"]), int(m["col"]), m["part"])


# ----------------------------------------------------------------------------- validation


def _check_flag(value, name: str) -> bool:
    """A boolean option: ``complex`` by the package-wide rule, other names as a plain flag."""
    rule = None if name == "complex" else Rule.flag()
    (value,) = check_options(**{name: value if rule is None else (value, rule)})
    return value


def _check_prefix(prefix) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {prefix!r}")
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"prefix = {prefix!r} must be non-empty ASCII letters only (e.g. 'w', 'xi', 'dw'), "
            "so that symbol names like 'w1_0_2' can be parsed back"
        )
    return prefix


def _check_max_symbols(max_symbols) -> int:
    (max_symbols,) = check_options(max_symbols=(max_symbols, Rule.count(1, "the largest number of real symbols")))
    return max_symbols


def weight_symbol_count(widths, *, complex: bool = False) -> int:
    """Number of real symbols in symbolic weights: ``sum_i d_i d_{i-1}`` (twice that if complex)."""
    widths = as_widths(widths)
    n = sum(widths[i] * widths[i - 1] for i in range(1, len(widths)))
    return 2 * n if complex else n


def lie_algebra_symbol_count(widths, *, complex: bool = False) -> int:
    """Number of real symbols in a symbolic Lie algebra element: ``sum_{i=1}^{N-1} d_i^2``
    (twice that if complex)."""
    widths = as_widths(widths)
    n = sum(d * d for d in widths[1:-1])
    return 2 * n if complex else n


def check_symbol_budget(count: int, max_symbols, what: str) -> None:
    """Raise ``ValueError`` if ``count`` symbols exceed ``max_symbols`` (checked before any work)."""
    max_symbols = _check_max_symbols(max_symbols)
    if count > max_symbols:
        raise ValueError(
            f"{what} needs {count} real symbols, more than max_symbols = {max_symbols}; "
            "symbolic expansion would be slow at this size: pass a larger max_symbols= to "
            "proceed anyway, or use the numerical dln_git.core functions"
        )


# ----------------------------------------------------------------------------- constructors


def _entry(prefix: str, layer: int, a: int, b: int, complex_: bool):
    if complex_:
        re_ = sympy.Symbol(symbol_name(prefix, layer, a, b, "re"), real=True)
        im_ = sympy.Symbol(symbol_name(prefix, layer, a, b, "im"), real=True)
        return re_ + sympy.I * im_
    return sympy.Symbol(symbol_name(prefix, layer, a, b), real=True)


def _matrix(prefix: str, layer: int, rows: int, cols: int, complex_: bool) -> sympy.Matrix:
    return sympy.Matrix(rows, cols, lambda a, b: _entry(prefix, layer, a, b, complex_))


def symbolic_weights(widths, *, complex: bool = False, prefix: str = "w", max_symbols: int = DEFAULT_MAX_SYMBOLS):
    """Symbolic weights ``(W_1, ..., W_N)``, ``W_i`` an explicit ``d_i x d_{i-1}`` sympy Matrix.

    Entry ``W_i[a, b]`` is the real symbol ``w{i}_{a}_{b}`` (real case) or
    ``w{i}_{a}_{b}_re + I*w{i}_{a}_{b}_im`` with real symbols (complex case); see the module
    docstring for why. docs/math section 1.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``, positive integers, depth ``N >= 1``.
    complex : bool
        Complex entries (two real symbols each).
    prefix : str
        Letters naming the symbols (``"w"`` by default; e.g. ``"dw"`` for a tangent vector).
    max_symbols : int
        Refuse, before creating anything, patterns needing more real symbols than this
        (default :data:`DEFAULT_MAX_SYMBOLS`).

    Returns
    -------
    tuple of sympy.Matrix

    Raises
    ------
    TypeError, ValueError
        Bad widths, prefix or flag; ``ValueError`` naming the count and the limit when the
        pattern needs more than ``max_symbols`` symbols.
    """
    widths = as_widths(widths)
    complex_ = _check_flag(complex, "complex")
    prefix = _check_prefix(prefix)
    count = weight_symbol_count(widths, complex=complex_)
    check_symbol_budget(count, max_symbols, f"symbolic weights for widths {widths}")
    return tuple(_matrix(prefix, i, widths[i], widths[i - 1], complex_) for i in range(1, len(widths)))


def symbolic_lie_algebra(widths, *, complex: bool = False, prefix: str = "xi", max_symbols: int = DEFAULT_MAX_SYMBOLS):
    """Symbolic Lie algebra element ``(xi_1, ..., xi_{N-1})`` of ``gl(d_1) x...x gl(d_{N-1})``.

    ``xi_i`` is an explicit ``d_i x d_i`` sympy Matrix with entries ``xi{i}_{a}_{b}`` (real) or
    ``xi{i}_{a}_{b}_re + I*xi{i}_{a}_{b}_im`` (complex); ``()`` for depth 1. docs/math section 1.
    Parameters and errors as in :func:`symbolic_weights`.
    """
    widths = as_widths(widths)
    complex_ = _check_flag(complex, "complex")
    prefix = _check_prefix(prefix)
    count = lie_algebra_symbol_count(widths, complex=complex_)
    check_symbol_budget(count, max_symbols, f"a symbolic Lie algebra element for widths {widths}")
    return tuple(_matrix(prefix, i, widths[i], widths[i], complex_) for i in range(1, len(widths) - 1))


# ----------------------------------------------------------------------------- algebra helpers


def conjugate_transpose(M: sympy.Matrix) -> sympy.Matrix:
    """``M^*``: exact for our matrices, whose symbols are real (``conjugate(x + I*y) = x - I*y``)."""
    return M.H


def _as_sympy_matrices(W, name: str) -> tuple[sympy.Matrix, ...]:
    if isinstance(W, sympy.MatrixBase) or isinstance(W, (str, bytes)) or not isinstance(W, Sequence):
        raise TypeError(
            f"{name} must be a sequence of sympy matrices ({name}_1, ..., {name}_N), got {type(W).__name__}"
        )
    mats = []
    for i, m in enumerate(W, start=1):
        if not isinstance(m, sympy.MatrixBase):
            raise TypeError(f"{name}_{i} must be a sympy Matrix, got {type(m).__name__}")
        mats.append(sympy.Matrix(m))
    if not mats:
        raise ValueError(f"{name} is empty: a network needs at least one layer (depth N >= 1)")
    for i in range(1, len(mats)):
        if mats[i].shape[1] != mats[i - 1].shape[0]:
            raise ValueError(
                f"layer {i + 1}: {name}_{i + 1} has shape {mats[i].shape} but {name}_{i} has shape "
                f"{mats[i - 1].shape}, so {name}_{i + 1} must have {mats[i - 1].shape[0]} columns"
            )
    return tuple(mats)


def symbolic_end_to_end(W) -> sympy.Matrix:
    """End-to-end map ``X = phi(W) = W_N W_{N-1}...W_1`` as an explicit sympy Matrix (expanded).

    docs/math section 1. ``W`` is a sequence of sympy matrices, e.g. from :func:`symbolic_weights`.
    """
    mats = _as_sympy_matrices(W, "W")

    def product(ms):
        X = ms[0]
        for Wi in ms[1:]:
            X = Wi * X
        return X

    return _fast(
        mats,
        lambda alg: sympy.Matrix(product(alg.matrices(mats)).to_sympy()),
        lambda: product(mats).applyfunc(sympy.expand),
    )


def is_zero(obj) -> bool:
    """Whether ``obj`` (an expression, a matrix, or a nested sequence of them) expands to exactly 0.

    Decides exactly for polynomials in real symbols (our setting): a polynomial's canonical sum of
    monomials (on the :class:`PolyAlgebra` backend, or by ``expand`` for other expressions) is
    ``0`` iff the polynomial vanishes identically.
    """
    entries = [sympy.sympify(e) for e in _flat_entries(obj)]
    return _fast(
        entries,
        lambda alg: all(not alg.poly(e) for e in entries),
        lambda: all(sympy.expand(e) == 0 for e in entries),
    )


def _flat_entries(obj):
    if isinstance(obj, sympy.MatrixBase):
        yield from obj
    elif isinstance(obj, (list, tuple, sympy.Tuple)):
        for o in obj:
            yield from _flat_entries(o)
    else:
        yield obj


# ----------------------------------------------------------------------------- numeric bridge


def _entry_symbols(e) -> tuple[sympy.Symbol, sympy.Symbol | None]:
    """The real symbol(s) of one symbolic entry: ``(x, None)`` for ``x``, ``(x, y)`` for ``x + I*y``."""
    if isinstance(e, sympy.Symbol) and e.is_real:
        return e, None
    re_, im_ = e.as_real_imag()
    if isinstance(re_, sympy.Symbol) and isinstance(im_, sympy.Symbol) and re_.is_real and im_.is_real:
        return re_, im_
    raise ValueError(f"entry {e} is not a real symbol or x + I*y with real symbols x, y")


def matrix_symbols(mats) -> list[sympy.Symbol]:
    """The real symbols of symbolic matrices, in order: layer by layer, row-major, and for a complex
    entry its real part then its imaginary part. ``mats`` is a sequence of matrices from
    :func:`symbolic_weights` or :func:`symbolic_lie_algebra`."""
    out: list[sympy.Symbol] = []
    for M in mats:
        for e in M:
            x, y = _entry_symbols(e)
            out.append(x)
            if y is not None:
                out.append(y)
    return out


def substitution(symbolic, numeric) -> dict[sympy.Symbol, float]:
    """Substitution dict ``{symbol: value}`` sending symbolic matrices to numeric ones.

    Parameters
    ----------
    symbolic : sequence of sympy.Matrix
        From :func:`symbolic_weights` or :func:`symbolic_lie_algebra`.
    numeric : sequence of array_like
        Matrices of the same shapes (e.g. ``dln_git.random_weights(widths)``). In the real case
        they must be real; in the complex case real input is allowed (imaginary parts 0).

    Returns
    -------
    dict
        Real symbol -> Python float, usable with ``expr.xreplace`` / ``subs`` / :func:`evaluate`.
    """
    if len(symbolic) != len(numeric):
        raise ValueError(f"{len(symbolic)} symbolic matrices but {len(numeric)} numeric ones")
    out: dict[sympy.Symbol, float] = {}
    for i, (S, A) in enumerate(zip(symbolic, numeric, strict=True), start=1):
        A = np.asarray(A)
        if not np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_:
            raise TypeError(f"matrix {i}: numeric input must be a numeric array, got dtype {A.dtype}")
        if A.shape != S.shape:
            raise ValueError(f"matrix {i}: numeric shape {A.shape} does not match symbolic shape {S.shape}")
        if not np.isfinite(A).all():
            raise ValueError(f"matrix {i} contains NaN or inf")
        for (a, b), e in zip(np.ndindex(*S.shape), S, strict=True):
            x, y = _entry_symbols(e)
            v = complex(A[a, b])
            if y is None:
                if v.imag != 0.0:
                    raise ValueError(
                        f"matrix {i} entry [{a}, {b}] is complex ({v}) but the symbolic matrix is real; "
                        "build it with complex=True"
                    )
                out[x] = v.real
            else:
                out[x] = v.real
                out[y] = v.imag
    return out


def evaluate(mats, subs: Mapping) -> tuple[np.ndarray, ...]:
    """Evaluate symbolic matrices at a substitution (from :func:`substitution`) as numpy arrays.

    Returns float64 arrays when every entry is real, complex128 otherwise. Raises ``ValueError`` if
    a symbol is left unassigned.
    """
    out = []
    for k, M in enumerate(mats, start=1):
        vals = [sympy.expand(sympy.sympify(e).xreplace(dict(subs))) for e in M]
        free = set().union(*(v.free_symbols for v in vals)) if vals else set()
        if free:
            raise ValueError(f"matrix {k}: no value for symbols {sorted(map(str, free))}")
        arr = np.array([complex(v) for v in vals], dtype=np.complex128).reshape(M.shape)
        out.append(arr.real.copy() if not np.any(arr.imag) else arr)
    return tuple(out)
