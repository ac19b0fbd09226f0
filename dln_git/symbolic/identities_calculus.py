"""Calculus on the exact backend for :mod:`dln_git.symbolic.identities`: directional derivatives
along explicit curves ``W + t V`` in a real parameter ``t`` (substituted on the real coordinates),
t-jets, and the two gauge identities that need them (invariance of ``phi`` and Noether)."""

from __future__ import annotations

import sympy

from .identities_report import Identity, _prove_poly
from .matrices import PolyAlgebra, PolyMatrix, matrix_symbols

__all__ = ["directional_derivative"]


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
    coords = [q for p in X for q in ((alg.re(p), alg.im(p)) if complex_ else (p,))]
    # sympy's chain rule on E(u_0(w), ..., u_{n-1}(w)) with undefined functions u_j standing for
    # the coordinates of X (each of the W symbols it depends on): d/dw E = sum_j E_j(u) du_j/dw.
    # The partial derivatives E_j of E at X are arbitrary real numbers: E_j becomes the real
    # symbol dE[j]; du_j/dw becomes the derivative of the polynomial X_j in the ring.
    w_all = [x for Wi in W_sym for x in matrix_symbols([Wi])]
    u_args = []
    for c in coords:
        used = {k for mono in c.keys() for k, e in enumerate(mono) if e}
        u_args.append(tuple(x for x in w_all if alg.index(x) in used))
    u = [sympy.Function(f"u_{j}")(*args) if args else sympy.Integer(0) for j, args in enumerate(u_args)]
    E = sympy.Function("E")(*u)
    which = {f.func: j for j, f in enumerate(u) if isinstance(f, sympy.Function)}

    def gradient_entry(x) -> object:
        total = alg.ring.zero
        for term in sympy.Add.make_args(sympy.diff(E, x)):
            j_E, j_u, rest = None, None, []
            for f in sympy.Mul.make_args(term):
                inner = f.expr if isinstance(f, sympy.Subs) else f
                if isinstance(f, sympy.Subs | sympy.Derivative) and inner.expr.func == E.func:
                    j_E = _partial_index(f)
                elif isinstance(f, sympy.Derivative) and f.expr.func in which and f.variable_count == ((x, 1),):
                    j_u = which[f.expr.func]
                else:
                    rest.append(f)
            if j_E is None or j_u is None or rest or j_E != j_u:
                raise RuntimeError(f"unexpected term {term} in the chain rule of E")
            total += alg.poly(dE[j_E]) * alg.diff(coords[j_u], x)
        return total

    grad = []
    for Wi in W_sym:
        syms = matrix_symbols([Wi])
        # gradient for <A, B> = Re tr(A^* B): dE/dw (real), dE/d Re w + I dE/d Im w (complex)
        if complex_:
            I = alg.scalar(sympy.I)
            vals = [gradient_entry(syms[2 * k]) + I * gradient_entry(syms[2 * k + 1]) for k in range(len(Wi))]
        else:
            vals = [gradient_entry(x) for x in syms]
        r, c = Wi.shape
        grad.append(PolyMatrix(alg, [vals[a * c : (a + 1) * c] for a in range(r)]))
    pairing = alg.inner(tuple(grad), A)
    return _prove_poly(
        "noether",
        "<grad_W E(phi(W)), A_W(xi)> = 0 for an arbitrary function E of the entries of X = phi(W)",
        pairing,
    )
