"""The moment map derived symbolically from the gauge action and the regularizer (docs/math section 1).

The derivation never types the formula of mu. It builds the one-parameter orbit through W with
the group elements truncated to first order, ``g_i(t) = I + t xi_i`` (so ``g_i(t)^{-1} = I - t xi_i
+ O(t^2)``)::

    W_i(t) = (I + t xi_i) W_i (I - t xi_{i-1}),    xi_0 = 0, xi_N = 0,

which agrees with ``exp(t xi).W`` to first order in t, hence has the same velocity at t = 0
(the infinitesimal action ``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}``). It differentiates
``R(W(t)) = 1/2 sum_i ||W_i(t)||_F^2`` at t = 0 and reads off the dual element: for every xi::

    d/dt R(exp(t xi).W)|_{t=0} = <xi, mu(W)> = sum_i Re tr(xi_i^* mu_i),

so ``mu_i[a, b] = d/d xi_i[a, b]`` of that derivative in the real case, and
``mu_i[a, b] = d/d Re xi_i[a, b] + I d/d Im xi_i[a, b]`` in the complex case (``Re tr(xi^* mu) =
sum Re(xi_ab) Re(mu_ab) + Im(xi_ab) Im(mu_ab)``). The result equals the closed form
``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` (checked in the tests and by
:func:`dln_git.symbolic.identities.prove_identities`, never assumed).

The algebra runs on the exact polynomial backend :class:`~dln_git.symbolic.matrices.PolyAlgebra`
(sympy's sparse polynomials over the Gaussian rationals, in the real symbols of W and xi and the
curve parameter t), with ``R(W(t))`` kept as a jet of order 1 in t (terms ``t^2`` and higher
dropped, which changes nothing at first order). The results are returned as explicit sympy
matrices. The generic formulas below (action, adjoint, truncated orbit, closed form) run on both.
"""

from __future__ import annotations

import functools

import sympy

from dln_git.core.options import Rule, check_options
from dln_git.core.validation import as_widths

from .matrices import (
    DEFAULT_MAX_SYMBOLS,
    PolyAlgebra,
    PolyMatrix,
    _as_sympy_matrices,
    _back,
    _check_flag,
    _fast,
    check_symbol_budget,
    lie_algebra_symbol_count,
    matrix_symbols,
    symbolic_lie_algebra,
    symbolic_weights,
    weight_symbol_count,
)

__all__ = [
    "derive_moment_map",
    "moment_map_closed_form",
    "orbit_curve",
    "symbolic_action_adjoint",
    "symbolic_infinitesimal_action",
    "symbolic_inner",
    "symbolic_regularizer",
]

_NO_LIMIT = 10**9


# Generic formulas: they use only +, -, *, .H, .shape, .eye and .zeros, so they run on explicit
# sympy matrices (the public functions) and on PolyMatrix (the exact backend of the derivations).


def _action(W, xi):
    N = len(W)
    out = []
    for i in range(N):
        Ai = W[i].zeros(*W[i].shape)
        if i < N - 1:
            Ai = Ai + xi[i] * W[i]
        if i > 0:
            Ai = Ai - W[i] * xi[i - 1]
        out.append(Ai)
    return tuple(out)


def _adjoint(W, V):
    return tuple(V[i] * W[i].H - W[i + 1].H * V[i + 1] for i in range(len(W) - 1))


def _closed_form(W):
    return tuple(W[i] * W[i].H - W[i + 1].H * W[i + 1] for i in range(len(W) - 1))


def _curve(W, xi, t, order: int = 1):
    """``g_i(t) W_i g_{i-1}(t)^{-1}`` with ``exp(t xi)`` and ``exp(-t xi)`` expanded to ``order``."""
    N = len(W)

    def series(x, sign):
        n = x.shape[0]
        out, term = x.eye(n), x.eye(n)
        for k in range(1, order + 1):
            term = term * x * (sympy.Integer(sign) / k)  # (sign t x)^k / k!, without t
            out = out + term * t**k
        return out

    out = []
    for i in range(N):
        Wi = W[i]
        if i < N - 1:
            Wi = series(xi[i], 1) * Wi
        if i > 0:
            Wi = Wi * series(xi[i - 1], -1)
        out.append(Wi)
    return tuple(out)


def _expand_all(mats) -> tuple[sympy.Matrix, ...]:
    return tuple(sympy.Matrix(M).applyfunc(sympy.expand) for M in mats)


def _lie_tuple(xi, W, name: str = "xi") -> tuple[sympy.Matrix, ...]:
    N = len(W)
    xi = tuple(sympy.Matrix(m) for m in xi)
    if len(xi) != N - 1:
        raise ValueError(f"{name} has {len(xi)} blocks, expected {N - 1} (one per hidden layer)")
    for i, m in enumerate(xi, start=1):
        d = W[i - 1].shape[0]
        if m.shape != (d, d):
            raise ValueError(f"hidden layer {i}: {name}_{i} has shape {m.shape}, expected {(d, d)}")
    return xi


def symbolic_infinitesimal_action(W, xi) -> tuple[sympy.Matrix, ...]:
    """``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}``, i = 1..N, with ``xi_0 = xi_N = 0`` (docs/math section 1).

    ``W`` and ``xi`` are sequences of explicit sympy matrices. Entries are expanded.
    """
    W = _as_sympy_matrices(W, "W")
    xi = _lie_tuple(xi, W)
    return _fast(
        (*W, *xi),
        lambda alg: _back(_action(alg.matrices(W), alg.matrices(xi))),
        lambda: _expand_all(_action(W, xi)),
    )


def symbolic_action_adjoint(W, V) -> tuple[sympy.Matrix, ...]:
    """``A_W^*(V)_i = V_i W_i^* - W_{i+1}^* V_{i+1}``, i = 1..N-1 (docs/math section 1), expanded.

    The adjoint of :func:`symbolic_infinitesimal_action` for ``<A, B> = Re tr(A^* B)`` (proved by
    :func:`dln_git.symbolic.identities.prove_identities`). Conjugation is exact when the symbols
    are real (as in :func:`symbolic_weights`).
    """
    W = _as_sympy_matrices(W, "W")
    V = _as_sympy_matrices(V, "V")
    if len(V) != len(W) or any(v.shape != w.shape for v, w in zip(V, W, strict=True)):
        raise ValueError("V must have one matrix per layer, of the same shapes as W")
    return _fast(
        (*W, *V),
        lambda alg: _back(_adjoint(alg.matrices(W), alg.matrices(V))),
        lambda: _expand_all(_adjoint(W, V)),
    )


def _inner_expr(A, B) -> sympy.Expr:
    s = sympy.Integer(0)
    for a, b in zip(A, B, strict=True):
        s += sum((sympy.conjugate(x) * y for x, y in zip(a, b, strict=True)), sympy.Integer(0))
    s = sympy.expand(s)
    return sympy.expand((s + sympy.conjugate(s)) / 2)


def symbolic_inner(A, B) -> sympy.Expr:
    """``<A, B> = sum_i Re tr(A_i^* B_i)`` for sequences of sympy matrices, expanded.

    Exact for matrices whose symbols are real: ``Re z = (z + conjugate(z)) / 2``.
    """
    A = tuple(sympy.Matrix(a) for a in A)
    B = tuple(sympy.Matrix(b) for b in B)
    if len(A) != len(B):
        raise ValueError(f"{len(A)} matrices against {len(B)}")
    for a, b in zip(A, B, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"shapes {a.shape} and {b.shape} differ")
    return _fast(
        (*A, *B),
        lambda alg: alg.inner(alg.matrices(A), alg.matrices(B)).as_expr(),
        lambda: _inner_expr(A, B),
    )


def symbolic_regularizer(W) -> sympy.Expr:
    """``R(W) = 1/2 sum_i ||W_i||_F^2 = 1/2 sum_i sum_ab |W_i[a,b]|^2`` (docs/math section 1), expanded."""
    W = _as_sympy_matrices(W, "W")
    return sympy.expand(symbolic_inner(W, W) / 2)


def orbit_curve(W, xi, t: sympy.Symbol, order: int = 1) -> tuple[sympy.Matrix, ...]:
    """Truncated orbit ``W_i(t) = E_order(t xi_i) W_i E_order(-t xi_{i-1})`` (``xi_0 = xi_N = 0``),
    with ``E_k(x) = sum_{j<=k} x^j / j!`` the exponential series truncated at order k.

    Agrees with ``exp(t xi).W`` up to ``O(t^{k+1})``, so its t-derivatives at 0 up to order k are
    exact (order 1 gives the infinitesimal action as velocity). Entries are expanded.
    """
    W = _as_sympy_matrices(W, "W")
    xi = _lie_tuple(xi, W)
    (order,) = check_options(order=(order, Rule.count(1, "the order of the truncated exponential")))
    if not isinstance(t, sympy.Symbol):
        raise TypeError(f"t must be a sympy Symbol, got {t!r}")
    return _fast(
        (*W, *xi, t),
        lambda alg: _back(_curve(alg.matrices(W), alg.matrices(xi), alg.gen(t), order)),
        lambda: _expand_all(_curve(W, xi, t, order)),
    )


def moment_map_closed_form(W) -> tuple[sympy.Matrix, ...]:
    """The *typed* closed form ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` (docs/math section 1), expanded.

    A reference to check :func:`derive_moment_map` against; the derivation does not use it.
    """
    W = _as_sympy_matrices(W, "W")
    return _fast(W, lambda alg: _back(_closed_form(alg.matrices(W))), lambda: _expand_all(_closed_form(W)))


def _check_derive_args(widths, complex, max_symbols) -> tuple[tuple[int, ...], bool]:
    widths = as_widths(widths)
    complex_ = _check_flag(complex, "complex")
    count = weight_symbol_count(widths, complex=complex_) + lie_algebra_symbol_count(widths, complex=complex_)
    check_symbol_budget(count, max_symbols, f"the symbolic moment map for widths {widths} (weights and xi)")
    return widths, complex_


@functools.lru_cache(maxsize=32)
def _derive_poly(widths: tuple[int, ...], complex_: bool):
    """The derivation on the exact backend: ``(algebra, W, mu)`` with PolyMatrix ``W`` and ``mu``."""
    W = symbolic_weights(widths, complex=complex_, max_symbols=_NO_LIMIT)
    xi = symbolic_lie_algebra(widths, complex=complex_, max_symbols=_NO_LIMIT)
    t = sympy.Symbol("t", real=True)
    w_syms, xi_syms = matrix_symbols(W), matrix_symbols(xi)
    alg = PolyAlgebra([*w_syms, *xi_syms, t])
    Wp, xip = alg.matrices(W), alg.matrices(xi)
    if not xi:  # depth 1: no hidden layer, mu is the empty tuple
        return alg, Wp, ()
    # R(W(t)) = 1/2 sum_i sum_ab |W_i(t)[a, b]|^2 along the first-order orbit, as a t-jet of order 1
    # (exact for the first derivative at t = 0), then d/dt at t = 0.
    R_t = alg.ring.zero
    for Ci in _curve(Wp, xip, alg.gen(t), order=1):
        for e in Ci:
            R_t += alg.mul_truncated(e, alg.conj(e), t, 1)
    R_t = R_t * alg.scalar(sympy.Rational(1, 2))
    D = alg.at_zero(alg.diff(R_t, t), t)  # D(xi) = d/dt R(exp(t xi).W)|_{t=0}, real
    if alg.im(D):
        raise RuntimeError("d/dt R is not real: derivation broken")
    # D is a linear form in the real coordinates of xi (checked): mu is its gradient for
    # <xi, mu> = sum_i Re tr(xi_i^* mu_i), i.e. mu_ab = dD/d xi_ab (real) or
    # dD/d Re xi_ab + I dD/d Im xi_ab (complex).
    xi_idx = [alg.index(x) for x in xi_syms]
    for m in D.keys():
        if sum(m[k] for k in xi_idx) != 1:
            raise RuntimeError("d/dt R(exp(t xi).W) is not a linear form in xi: derivation broken")
    I = alg.scalar(sympy.I)
    mus = []
    for xi_i in xi:
        d = xi_i.shape[0]
        syms = matrix_symbols([xi_i])
        if complex_:
            vals = [alg.diff(D, syms[2 * k]) + I * alg.diff(D, syms[2 * k + 1]) for k in range(d * d)]
        else:
            vals = [alg.diff(D, x) for x in syms]
        mus.append(PolyMatrix(alg, [vals[a * d : (a + 1) * d] for a in range(d)]))
    return alg, Wp, tuple(mus)


@functools.lru_cache(maxsize=32)
def _derive(widths: tuple[int, ...], complex_: bool) -> tuple[sympy.ImmutableMatrix, ...]:
    _, _, mus = _derive_poly(widths, complex_)
    return tuple(m.to_sympy() for m in mus)


def derive_moment_map(widths, *, complex: bool = False, max_symbols: int = DEFAULT_MAX_SYMBOLS):
    """Derive the moment map ``mu = (mu_1, ..., mu_{N-1})`` from the action and the regularizer.

    Computes ``D(xi) = d/dt R(exp(t xi).W)|_{t=0}`` for symbolic weights ``W`` and a symbolic Lie
    algebra element ``xi`` (along the first-order orbit of :func:`orbit_curve`), then the unique
    ``mu`` with ``D(xi) = <xi, mu> = sum_i Re tr(xi_i^* mu_i)`` for all ``xi``:
    ``mu_i[a, b] = dD/d xi_i[a, b]`` (real) or ``dD/d Re xi_i[a, b] + I dD/d Im xi_i[a, b]``
    (complex). The result is ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}`` (docs/math section 1).

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``.
    complex : bool
        Complex weights (entries ``x + I*y`` with real symbols, see :mod:`.matrices`).
    max_symbols : int
        Refuse, before any work, patterns whose weights and Lie algebra element together need more
        real symbols than this.

    Returns
    -------
    tuple of sympy.Matrix
        ``mu_i`` (``d_i x d_i``, Hermitian) with expanded polynomial entries in the symbols of
        ``symbolic_weights(widths, complex=complex)``; ``()`` for depth 1.
    """
    widths, complex_ = _check_derive_args(widths, complex, max_symbols)
    return tuple(sympy.Matrix(m) for m in _derive(widths, complex_))
