"""Symbolic proofs of the identities of MATH.md sections 1-3 on explicit matrices.

Each identity is stated as ``lhs = rhs`` for symbolic weights ``W``, a symbolic Lie algebra
element ``xi`` and a symbolic tangent vector ``dW`` (every entry an independent real symbol, or
``x + I*y`` with real symbols in the complex case) and is *proved* when every entry of
``lhs - rhs`` expands to exactly 0. For polynomials in independent real symbols this is a proof
for all real (or complex) weights of the given widths, not a numerical check at a point.

Derivatives are taken along explicit curves in a real parameter ``t`` (``d/dt f(W + t V)|_{t=0}``,
the curve substituted on the real coordinates), never by ``MatrixSymbol`` calculus. The algebra
runs on the exact backend :class:`~dln_git.symbolic.matrices.PolyAlgebra` (canonical sparse
polynomials over the Gaussian rationals, so "expands to zero" is "has no terms"); the results
are returned as sympy objects. The moment map used is the one *derived* by
:func:`~dln_git.symbolic.moment_map.derive_moment_map`, never the typed formula.

Identities proved by :func:`prove_identities` (with ``xi_0 = xi_N = 0``):

1. ``end_to_end_invariance``: ``d/dt phi(W + t A_W(xi))|_0 = 0`` (gauge directions lie in
   ``ker dphi_W``; MATH.md section 2, tangent spaces).
2. ``noether``: ``<grad_W E(phi(W)), A_W(xi)> = 0`` for an arbitrary smooth ``E`` of the (real
   coordinates of the) entries of ``X = phi(W)``, taken as ``sympy.Function('E')``; its partial
   derivatives at X are treated as independent unknowns (MATH.md section 4: the loss is gauge
   invariant, so its gradient is orthogonal to the orbit).
3. ``action_adjoint``: ``<A_W(xi), dW> = <xi, A_W^*(dW)>`` (the typed A^* is the adjoint of A).
4. ``moment_map_is_A_star_W``: ``mu = A_W^*(W)`` with mu *derived* by
   :func:`derive_moment_map` (MATH.md section 1).
5. ``moment_map_hermitian``: ``mu - mu^* = 0``.
6. ``moment_map_differential``: ``d/dt mu(W + t dW)|_0 = 2 Herm(A_W^*(dW))``, with
   ``Herm(M) = (M + M^*)/2`` (MATH.md section 3).
7. ``gram_operator``: ``A_W^*(A_W(xi))_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1}
   W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}`` (MATH.md section 2).
8. ``l2_flow_rate``: ``d/dt mu(W - t A_W(xi))|_0 = -2 Herm(A_W^* A_W(xi))`` for every xi. With
   the L2 balancing flow's ``xi`` (``A_W^* A_W xi = mu``) the right-hand side is ``-2 Herm(mu)``,
   which is ``-2 mu`` by identity 5: ``d mu/dt = -2 mu``, i.e. ``mu(t) = exp(-2t) mu(0)``
   (MATH.md section 3). The remaining step is a substitution of the defining equation of xi.
9. ``kempf_ness_convexity``: ``d^2/dt^2 R(exp(t s).W)|_0 = 2 ||A_W(s)||^2`` for Hermitian
   ``s = xi + xi^*`` (every Hermitian s is of this form), with ``exp`` expanded to second order,
   which is exact for a second derivative at 0 (MATH.md section 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import sympy

from dln_git.core.validation import as_widths

from .matrices import (
    DEFAULT_MAX_SYMBOLS,
    PolyAlgebra,
    PolyMatrix,
    _check_flag,
    _flat_entries,
    check_symbol_budget,
    is_zero,
    lie_algebra_symbol_count,
    matrix_symbols,
    symbolic_lie_algebra,
    symbolic_weights,
    weight_symbol_count,
)
from .moment_map import _action, _adjoint, _curve, _derive_poly

__all__ = ["Identity", "IdentityReport", "directional_derivative", "prove_identities", "prove_identity"]

_NO_LIMIT = 10**9


class Identity(NamedTuple):
    """One symbolic identity ``lhs = rhs``: ``(name, statement, residual, proved)``.

    ``residual`` is ``lhs - rhs`` expanded (a sympy expression, an ImmutableMatrix, or a
    ``sympy.Tuple`` of them, one per layer); ``proved`` is whether it is exactly 0.
    """

    name: str
    statement: str
    residual: sympy.Basic
    proved: bool


@dataclass(frozen=True)
class IdentityReport:
    """The outcome of :func:`prove_identities`.

    Attributes
    ----------
    widths : tuple of int
    complex : bool
    identities : tuple of Identity
        ``(name, statement, residual, proved)`` for each identity.
    seconds : float
        Wall time of the whole proof.
    """

    widths: tuple[int, ...]
    complex: bool
    identities: tuple[Identity, ...]
    seconds: float

    @property
    def all_proved(self) -> bool:
        """Whether every residual expanded to exactly 0."""
        return all(i.proved for i in self.identities)

    def __getitem__(self, name: str) -> Identity:
        for ident in self.identities:
            if ident.name == name:
                return ident
        raise KeyError(name)

    def __str__(self) -> str:
        kind = "complex" if self.complex else "real"
        n_ok = sum(i.proved for i in self.identities)
        lines = [
            f"Symbolic identities, widths {self.widths}, {kind} weights: "
            f"{n_ok}/{len(self.identities)} proved in {self.seconds:.2f} s"
        ]
        for ident in self.identities:
            mark = "proved" if ident.proved else "NOT PROVED"
            lines.append(f"  [{mark}] {ident.name}: {ident.statement}")
            if not ident.proved:
                lines.append(f"      first nonzero residual entry: {_first_nonzero(ident.residual)}")
        return "\n".join(lines)


def _first_nonzero(residual) -> sympy.Basic | None:
    for e in _flat_entries(residual):
        if sympy.expand(e) != 0:
            return e
    return None


def _expanded(obj) -> sympy.Basic:
    """``obj`` expanded, as an immutable sympy object (Expr, ImmutableMatrix or Tuple)."""
    if isinstance(obj, sympy.MatrixBase):
        return sympy.ImmutableMatrix(obj.applyfunc(sympy.expand))
    if isinstance(obj, (tuple, list, sympy.Tuple)):
        return sympy.Tuple(*(_expanded(o) for o in obj))
    return sympy.expand(sympy.sympify(obj))


def _difference(lhs, rhs):
    if isinstance(lhs, (tuple, list, sympy.Tuple)):
        if not isinstance(rhs, (tuple, list, sympy.Tuple)) or len(lhs) != len(rhs):
            raise ValueError("lhs and rhs must have the same structure")
        return tuple(_difference(a, b) for a, b in zip(lhs, rhs, strict=True))
    if isinstance(lhs, sympy.MatrixBase) and isinstance(rhs, sympy.MatrixBase) and lhs.shape != rhs.shape:
        raise ValueError(f"shapes {lhs.shape} and {rhs.shape} differ")
    return lhs - rhs


def prove_identity(name: str, statement: str, lhs, rhs=0) -> Identity:
    """Check ``lhs = rhs`` exactly: proved iff every entry of ``lhs - rhs`` expands to 0.

    ``lhs`` and ``rhs`` are sympy expressions, matrices, or (nested) tuples of them with the same
    structure (``rhs = 0`` is allowed for any ``lhs``). This is the checker behind
    :func:`prove_identities`; it fails on a false identity (e.g. a sign flipped), as the tests show.
    """
    scalar_zero = not isinstance(rhs, (tuple, list, sympy.Tuple, sympy.MatrixBase)) and sympy.sympify(rhs) == 0
    diff = lhs if scalar_zero else _difference(lhs, rhs)
    residual = _expanded(diff)
    return Identity(name, statement, residual, is_zero(residual))


def _prove_poly(name: str, statement: str, lhs, rhs=None) -> Identity:
    """:func:`prove_identity` on the exact backend: ``lhs``/``rhs`` are PolyElements or tuples of
    PolyMatrix; a polynomial is zero iff it has no terms (canonical form)."""
    if isinstance(lhs, tuple):
        diff = lhs if rhs is None else tuple(a - b for a, b in zip(lhs, rhs, strict=True))
        proved = all(M.is_zero_matrix() for M in diff)
        residual = sympy.Tuple(*(M.to_sympy() for M in diff))
    else:
        diff = lhs if rhs is None else lhs - rhs
        proved = not diff
        residual = diff.as_expr()
    return Identity(name, statement, residual, proved)


# ----------------------------------------------------------------------------- curve helpers


def _herm(M):
    return (M + M.H) * sympy.Rational(1, 2)


def _coordinate_shift(alg: PolyAlgebra, W_syms, V, t) -> dict:
    """``{x: x + t v_x}`` over the real coordinates x of W: the curve ``W + t V``.

    ``W_syms`` lists the real symbols of each layer (``matrix_symbols([W_i])``); ``V`` is a tuple of
    PolyMatrix. A complex entry ``x + I y`` moves by ``Re v`` in x and ``Im v`` in y.
    """
    tt = alg.gen(t)
    shift = {}
    for syms, Vi in zip(W_syms, V, strict=True):
        complex_ = len(syms) == 2 * len(Vi)
        for k, v in enumerate(Vi):
            if complex_:
                x, y = syms[2 * k], syms[2 * k + 1]
                shift[x] = alg.gen(x) + tt * alg.re(v)
                shift[y] = alg.gen(y) + tt * alg.im(v)
            else:
                shift[syms[k]] = alg.gen(syms[k]) + tt * v
    return shift


def _directional(alg: PolyAlgebra, F, W_syms, V, t):
    """``d/dt F(W + t V)|_{t=0}`` for a tuple F of PolyMatrix in the symbols of W (sympy substitutes
    the curve on the real coordinates and differentiates in the real parameter t)."""
    shift = _coordinate_shift(alg, W_syms, V, t)
    return tuple(M.applyfunc(lambda p: alg.at_zero(alg.diff(alg.substitute(p, shift), t), t)) for M in F)


def directional_derivative(F, W, V) -> tuple[sympy.Matrix, ...]:
    """``d/dt F(W + t V)|_{t=0}`` for sympy matrices.

    ``F`` is a tuple of matrices whose entries are polynomials in the symbols of ``W`` (from
    :func:`symbolic_weights`, real or complex); ``V`` a tuple of matrices of W's shapes, polynomial
    in real symbols. The curve is substituted on the real coordinates (``Re``/``Im`` separately
    in the complex case) and differentiated in the real parameter ``t``.
    """
    W = tuple(W)
    t = sympy.Dummy("t", real=True)
    W_syms = [matrix_symbols([Wi]) for Wi in W]
    free: set = set()
    for M in (*F, *V):
        free |= sympy.Matrix(M).free_symbols
    extra = sorted(free - {x for ss in W_syms for x in ss}, key=str)
    alg = PolyAlgebra([*(x for ss in W_syms for x in ss), *extra, t])
    out = _directional(alg, alg.matrices(F), W_syms, alg.matrices(V), t)
    return tuple(sympy.Matrix(M.to_sympy()) for M in out)


# ----------------------------------------------------------------------------- the identities


def _jet_matmul(alg: PolyAlgebra, A, B, t, order: int):
    """``A B`` for PolyMatrix with entries taken as t-jets of the given order."""
    (r, k), (_, c) = A.shape, B.shape
    rows = []
    for a in range(r):
        row = []
        for b in range(c):
            acc = alg.ring.zero
            for j in range(k):
                acc += alg.mul_truncated(A[a, j], B[j, b], t, order)
            row.append(acc)
        rows.append(row)
    return PolyMatrix(alg, rows)


def _end_to_end_invariance(alg: PolyAlgebra, W, A, t) -> Identity:
    tt = alg.gen(t)
    X_t = None
    for Wi, Ai in zip(W, A, strict=True):
        Ci = Wi + Ai * tt
        X_t = Ci if X_t is None else _jet_matmul(alg, Ci, X_t, t, 1)
    dX = X_t.applyfunc(lambda p: alg.at_zero(alg.diff(p, t), t))
    return _prove_poly("end_to_end_invariance", "d/dt phi(W + t A_W(xi))|_{t=0} = 0", (dX,))


def _partial_index(atom) -> int:
    """Which argument of E the derivative object ``atom`` (Subs or Derivative) differentiates."""
    deriv = atom.expr if isinstance(atom, sympy.Subs) else atom
    if not isinstance(deriv, sympy.Derivative) or len(deriv.variable_count) != 1 or deriv.variable_count[0][1] != 1:
        raise RuntimeError(f"unexpected derivative object {atom}")
    var = deriv.variable_count[0][0]
    hits = [j for j, a in enumerate(deriv.expr.args) if a == var]
    if len(hits) != 1:
        raise RuntimeError(f"cannot tell which argument {atom} differentiates")
    return hits[0]


def _noether(alg: PolyAlgebra, W_sym, W, A, complex_: bool, dE) -> Identity:
    X = None
    for Wi in W:
        X = Wi if X is None else Wi * X
    if complex_:
        coords = [q.as_expr() for p in X for q in (alg.re(p), alg.im(p))]
    else:
        coords = [p.as_expr() for p in X]
    E = sympy.Function("E")(*coords)
    grad = []
    for Wi in W_sym:
        syms = matrix_symbols([Wi])
        # gradient for <A, B> = Re tr(A^* B): dE/dw (real), dE/d Re w + I dE/d Im w (complex)
        if complex_:
            vals = [sympy.diff(E, syms[2 * k]) + sympy.I * sympy.diff(E, syms[2 * k + 1]) for k in range(len(Wi))]
        else:
            vals = [sympy.diff(E, x) for x in syms]
        grad.append(sympy.Matrix(Wi.shape[0], Wi.shape[1], vals))

    # The partial derivatives of E at X are arbitrary real numbers: the j-th becomes the real
    # symbol dE[j]. An identity in independent unknowns holds for every value they take.
    # Subs(Derivative(E(..), _xi), _xi, X_j) when X_j is not a symbol, Derivative(E(..), X_j) when it is.
    def named(e):
        out = {}
        for term in sympy.Add.make_args(e):
            for f in sympy.Mul.make_args(term):
                if isinstance(f, sympy.Subs | sympy.Derivative):
                    out[f] = dE[_partial_index(f)]
        return e.xreplace(out)

    grad = [G.applyfunc(named) for G in grad]
    if any(e.has(sympy.Subs, sympy.Derivative) for G in grad for e in G):
        raise RuntimeError("unreplaced derivative of E in the gradient")
    pairing = alg.inner(alg.matrices(grad), A)
    return _prove_poly(
        "noether",
        "<grad_W E(phi(W)), A_W(xi)> = 0 for an arbitrary function E of the entries of X = phi(W)",
        pairing,
    )


def _check_args(widths, complex, max_symbols) -> tuple[tuple[int, ...], bool]:
    widths = as_widths(widths)
    complex_ = _check_flag(complex, "complex")
    count = 2 * weight_symbol_count(widths, complex=complex_) + lie_algebra_symbol_count(widths, complex=complex_)
    check_symbol_budget(count, max_symbols, f"the symbolic identities for widths {widths} (W, dW and xi)")
    return widths, complex_


def prove_identities(widths, *, complex: bool = False, max_symbols: int = DEFAULT_MAX_SYMBOLS) -> IdentityReport:
    """Prove the identities listed in the module docstring for the given widths, symbolically.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_N)``. Small patterns such as (2,2,2), (2,3,2), (1,2,3), (2,2,2,2) take well
        under a second (real) or a few seconds (complex).
    complex : bool
        Complex weights (entries ``x + I*y`` with real symbols).
    max_symbols : int
        Refuse, before any work, patterns whose ``W``, ``dW`` and ``xi`` together need more real
        symbols than this.

    Returns
    -------
    IdentityReport
        ``all_proved`` is True when every residual is exactly 0; ``str(report)`` is a readable
        summary. For depth 1 the hidden-layer identities hold vacuously (empty residuals).

    Notes
    -----
    The algebra runs on the exact polynomial backend
    :class:`~dln_git.symbolic.matrices.PolyAlgebra` (canonical sparse polynomials over the
    Gaussian rationals in the real symbols), where "expands to zero" means "has no terms"; the
    mu used is the one *derived* by :func:`derive_moment_map`, and the chain rule of the Noether
    identity is sympy's own (on ``sympy.Function('E')``).
    """
    widths, complex_ = _check_args(widths, complex, max_symbols)
    t0 = time.perf_counter()
    W_sym = symbolic_weights(widths, complex=complex_, max_symbols=_NO_LIMIT)
    dW_sym = symbolic_weights(widths, complex=complex_, prefix="dw", max_symbols=_NO_LIMIT)
    xi_sym = symbolic_lie_algebra(widths, complex=complex_, max_symbols=_NO_LIMIT)
    t = sympy.Symbol("t", real=True)
    n_coords = widths[0] * widths[-1] * (2 if complex_ else 1)
    dE = [sympy.Symbol(f"dE_{j}", real=True) for j in range(n_coords)]
    W_syms = [matrix_symbols([Wi]) for Wi in W_sym]
    alg = PolyAlgebra([*matrix_symbols(W_sym), *matrix_symbols(dW_sym), *matrix_symbols(xi_sym), t, *dE])
    W, dW, xi = alg.matrices(W_sym), alg.matrices(dW_sym), alg.matrices(xi_sym)
    _, _, mu_derived = _derive_poly(widths, complex_)
    mu = tuple(M.convert(alg) for M in mu_derived)
    N = len(W)
    A = _action(W, xi)
    out = [_end_to_end_invariance(alg, W, A, t), _noether(alg, W_sym, W, A, complex_, dE)]
    out.append(
        _prove_poly(
            "action_adjoint",
            "<A_W(xi), dW> = <xi, A_W^*(dW)>, A_W^*(V)_i = V_i W_i^* - W_{i+1}^* V_{i+1}",
            alg.inner(A, dW),
            alg.inner(xi, _adjoint(W, dW)),
        )
    )
    out.append(_prove_poly("moment_map_is_A_star_W", "mu (derived) = A_W^*(W)", mu, _adjoint(W, W)))
    out.append(_prove_poly("moment_map_hermitian", "mu - mu^* = 0", mu, tuple(m.H for m in mu)))
    out.append(
        _prove_poly(
            "moment_map_differential",
            "d/dt mu(W + t dW)|_{t=0} = 2 Herm(A_W^*(dW))",
            _directional(alg, mu, W_syms, dW, t),
            tuple(_herm(M) * 2 for M in _adjoint(W, dW)),
        )
    )
    gram = _adjoint(W, A)
    typed = []
    for i in range(N - 1):
        G = xi[i] * W[i] * W[i].H + W[i + 1].H * W[i + 1] * xi[i]
        if i > 0:
            G = G - W[i] * xi[i - 1] * W[i].H
        if i < N - 2:
            G = G - W[i + 1].H * xi[i + 1] * W[i + 1]
        typed.append(G)
    out.append(
        _prove_poly(
            "gram_operator",
            "A_W^*(A_W(xi))_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1} W_i^* "
            "- W_{i+1}^* xi_{i+1} W_{i+1}",
            gram,
            tuple(typed),
        )
    )
    out.append(
        _prove_poly(
            "l2_flow_rate",
            "d/dt mu(W - t A_W(xi))|_{t=0} = -2 Herm(A_W^* A_W(xi)) for all xi; with A_W^* A_W xi = mu "
            "(L2 balancing flow) and mu Hermitian this is d mu/dt = -2 mu",
            _directional(alg, mu, W_syms, tuple(-a for a in A), t),
            tuple(_herm(M) * -2 for M in gram),
        )
    )
    # Kempf–Ness convexity: d^2/dt^2 R along exp(t s).W, s = xi + xi^* Hermitian, as a t-jet of
    # order 2 (exp expanded to second order: exact for the second derivative at 0).
    s = tuple(x + x.H for x in xi)
    R_t = alg.ring.zero
    for Ci in _curve(W, s, alg.gen(t), order=2):
        for e in Ci:
            R_t += alg.mul_truncated(e, alg.conj(e), t, 2)
    R_t = R_t * alg.scalar(sympy.Rational(1, 2))
    R2 = alg.at_zero(alg.diff(alg.diff(R_t, t), t), t)
    As = _action(W, s)
    out.append(
        _prove_poly(
            "kempf_ness_convexity",
            "d^2/dt^2 R(exp(t s).W)|_{t=0} = 2 ||A_W(s)||^2 for Hermitian s",
            R2,
            alg.inner(As, As) * 2,
        )
    )
    return IdentityReport(widths, complex_, tuple(out), time.perf_counter() - t0)
