"""Numpy functions generated from the symbolic moment map (differential testing against core).

``lambdify_moment_map(widths)`` compiles the *derived* ``mu`` of
:func:`dln_git.symbolic.derive_moment_map` with ``sympy.lambdify`` (numpy module), so comparing
it with the hand-written :func:`dln_git.moment_map` checks one against the other
(docs/math section 1: ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy

from dln_git.core.validation import as_weights

from .matrices import DEFAULT_MAX_SYMBOLS, matrix_symbols, symbolic_weights
from .moment_map import _check_derive_args, _derive

__all__ = ["lambdify_moment_map"]


def lambdify_moment_map(
    widths, *, complex: bool = False, max_symbols: int = DEFAULT_MAX_SYMBOLS
) -> Callable[..., tuple[np.ndarray, ...]]:
    """A numpy function ``f(W) -> (mu_1, ..., mu_{N-1})`` compiled from the derived moment map.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``; ``f`` accepts only weights of these widths.
    complex : bool
        Compile the complex moment map (``f`` then accepts real or complex weights and returns
        complex128 arrays). With ``complex=False`` ``f`` returns float64 arrays and rejects complex
        weights with a ``TypeError``.
    max_symbols : int
        Symbol budget, as in :func:`derive_moment_map`.

    Returns
    -------
    callable
        ``f(W)`` with ``W = (W_1, ..., W_N)``, validated like every core function; returns the
        tuple of ``mu_i`` (``()`` for depth 1). It should agree with ``dln_git.moment_map(W)`` to
        rounding error.
    """
    widths, complex_ = _check_derive_args(widths, complex, max_symbols)
    mus = _derive(widths, complex_)
    Wsym = symbolic_weights(widths, complex=complex_, max_symbols=10**9)
    args = matrix_symbols(Wsym)
    shapes = [(widths[i], widths[i - 1]) for i in range(1, len(widths))]
    dtype = np.complex128 if complex_ else np.float64
    compiled = sympy.lambdify([args], list(mus), modules="numpy", cse=True) if mus else None

    def moment_map_from_symbolic(W) -> tuple[np.ndarray, ...]:
        mats = as_weights(W)
        if len(mats) != len(shapes):
            raise ValueError(
                f"W has {len(mats)} layers, this function was compiled for {len(shapes)} (widths {widths})"
            )
        for i, (m, s) in enumerate(zip(mats, shapes, strict=True), start=1):
            if m.shape != s:
                raise ValueError(f"layer {i}: W_{i} has shape {m.shape}, expected {s} (widths {widths})")
        if not complex_ and np.iscomplexobj(mats[0]):
            raise TypeError("complex weights given to a real moment map: compile it with complex=True")
        if compiled is None:
            return ()
        if complex_:
            values = []
            for m in mats:
                for z in np.ravel(m):
                    values.extend((z.real, z.imag))
        else:
            values = [x for m in mats for x in np.ravel(m)]
        out = compiled([float(v) for v in values])
        return tuple(np.asarray(o, dtype=dtype).reshape(s, s) for o, s in zip(out, widths[1:-1], strict=True))

    moment_map_from_symbolic.__doc__ = (
        f"Moment map compiled from the symbolic derivation, widths {widths}, "
        f"{'complex' if complex_ else 'real'} weights: W -> (mu_1, ..., mu_{{N-1}})."
    )
    return moment_map_from_symbolic
