"""LaTeX for the symbolic layer: moment maps, Kempf–Ness conditions, end-to-end maps.

Strings are meant to be pasted into a paper (they need ``amsmath`` for ``aligned`` and
``bmatrix``). Symbols named by :mod:`dln_git.symbolic.matrices` print with the layer as a
parenthesised superscript and 1-based indices, as in docs/math: ``w1_0_2`` prints as
``w^{(1)}_{13}``, ``xi2_1_1`` as ``\\xi^{(2)}_{22}``, and the parts of a complex entry
``w1_0_2_re``/``w1_0_2_im`` as ``\\operatorname{Re} w^{(1)}_{13}``/``\\operatorname{Im} w^{(1)}_{13}``.
When a row or column index reaches 10 the two indices are separated by a comma
(``w^{(1)}_{10,2}``). Other symbols print as sympy prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from .matrices import parse_symbol_name, symbolic_end_to_end

__all__ = ["latex_symbol_names", "symbolic_end_to_end", "to_latex"]

_MAT = {"mat_str": "bmatrix", "mat_delim": ""}


def _symbol_latex(sym: sympy.Symbol) -> str | None:
    parsed = parse_symbol_name(sym)
    if parsed is None:
        return None
    base = sympy.latex(sympy.Symbol(parsed.prefix))  # "xi" -> "\xi", "w" -> "w"
    r, c = parsed.row + 1, parsed.col + 1
    idx = f"{r},{c}" if max(r, c) >= 10 else f"{r}{c}"
    out = f"{base}^{{({parsed.layer})}}_{{{idx}}}"
    if parsed.part == "re":
        out = rf"\operatorname{{Re}} {out}"
    elif parsed.part == "im":
        out = rf"\operatorname{{Im}} {out}"
    return out


def _free_symbols(obj) -> set:
    if isinstance(obj, sympy.Basic | sympy.MatrixBase):
        return set(obj.free_symbols)
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        out: set = set()
        for o in obj:
            out |= _free_symbols(o)
        return out
    return set()


def latex_symbol_names(obj) -> dict[sympy.Symbol, str]:
    """``symbol_names`` for ``sympy.latex``: every parseable symbol of ``obj`` to its LaTeX name."""
    names = {}
    for s in _free_symbols(obj):
        if isinstance(s, sympy.Symbol):
            tex = _symbol_latex(s)
            if tex is not None:
                names[s] = tex
    return names


def _tex(expr, names) -> str:
    return sympy.latex(expr, symbol_names=names, **_MAT)


def to_latex(obj, *, name: str | None = None) -> str:
    """LaTeX for a symbolic object of this package.

    Parameters
    ----------
    obj
        * a tuple of sympy matrices (a moment map ``(mu_1, ..., mu_{N-1})`` from
          :func:`derive_moment_map`): an ``aligned`` block ``\\mu_{i} &= [...]``, one line per
          hidden layer (``\\mu = ()`` if empty);
        * a list of expressions (Kempf–Ness conditions from :func:`kempf_ness_conditions`): an
          ``aligned`` system ``expr &= 0``, one line per equation (``\\text{(no equations)}`` if
          empty);
        * a single sympy matrix (e.g. the end-to-end map :func:`symbolic_end_to_end`): a
          ``bmatrix``, preceded by ``name =`` if a name is given;
        * a single sympy expression.
    name : str, optional
        LaTeX name of the object: the base name of the blocks of a tuple (default ``\\mu``, lines
        ``\\mu_{1}, \\mu_{2}, ...``), or the left-hand side for a single matrix or expression
        (e.g. ``"X"``).

    Returns
    -------
    str
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    names = latex_symbol_names(obj)
    if isinstance(obj, sympy.MatrixBase | sympy.Basic):
        body = _tex(obj, names)
        return body if name is None else f"{name} = {body}"
    if isinstance(obj, tuple):
        base = r"\mu" if name is None else name
        if not obj:
            return f"{base} = ()"
        if not all(isinstance(m, sympy.MatrixBase) for m in obj):
            raise TypeError("a tuple must hold sympy matrices (e.g. a moment map (mu_1, ..., mu_{N-1}))")
        lines = [f"{base}_{{{i}}} &= {_tex(m, names)}" for i, m in enumerate(obj, start=1)]
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    if isinstance(obj, list):
        if not obj:
            return r"\text{(no equations)}"
        if not all(isinstance(e, sympy.Expr) for e in obj):
            raise TypeError("a list must hold sympy expressions (equations 'expr = 0')")
        exprs = list(obj)
        lines = [f"{_tex(e, names)} &= 0" for e in exprs]
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    raise TypeError(
        "to_latex expects a tuple of sympy matrices, a list of sympy expressions, a sympy matrix "
        f"or a sympy expression, got {type(obj).__name__}"
    )
