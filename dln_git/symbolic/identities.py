"""Symbolic proofs of the identities of docs/math sections 1-3 on explicit matrices.

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
   ``ker dphi_W``; docs/math section 2, tangent spaces).
2. ``noether``: ``<grad_W E(phi(W)), A_W(xi)> = 0`` for an arbitrary smooth ``E`` of the (real
   coordinates of the) entries of ``X = phi(W)``, taken as ``sympy.Function('E')``; its partial
   derivatives at X are treated as independent unknowns (docs/math section 4: the loss is gauge
   invariant, so its gradient is orthogonal to the orbit).
3. ``action_adjoint``: ``<A_W(xi), dW> = <xi, A_W^*(dW)>`` (the typed A^* is the adjoint of A).
4. ``moment_map_is_A_star_W``: ``mu = A_W^*(W)`` with mu *derived* by
   :func:`derive_moment_map` (docs/math section 1).
5. ``moment_map_hermitian``: ``mu - mu^* = 0``.
6. ``moment_map_differential``: ``d/dt mu(W + t dW)|_0 = 2 Herm(A_W^*(dW))``, with
   ``Herm(M) = (M + M^*)/2`` (docs/math section 3).
7. ``gram_operator``: ``A_W^*(A_W(xi))_i = xi_i W_i W_i^* + W_{i+1}^* W_{i+1} xi_i - W_i xi_{i-1}
   W_i^* - W_{i+1}^* xi_{i+1} W_{i+1}`` (docs/math section 2).
8. ``l2_flow_rate``: ``d/dt mu(W - t A_W(xi))|_0 = -2 Herm(A_W^* A_W(xi))`` for every xi. With
   the L2 balancing flow's ``xi`` (``A_W^* A_W xi = mu``) the right-hand side is ``-2 Herm(mu)``,
   which is ``-2 mu`` by identity 5: ``d mu/dt = -2 mu``, i.e. ``mu(t) = exp(-2t) mu(0)``
   (docs/math section 3). The remaining step is a substitution of the defining equation of xi.
9. ``kempf_ness_convexity``: ``d^2/dt^2 R(exp(t s).W)|_0 = 2 ||A_W(s)||^2`` for Hermitian
   ``s = xi + xi^*`` (every Hermitian s is of this form), with ``exp`` expanded to second order,
   which is exact for a second derivative at 0 (docs/math section 2).
"""

from __future__ import annotations

import math
import time

import sympy

from dln_git.core.options import Rule, check_options
from dln_git.core.validation import as_widths

from .identities_calculus import (
    _directional,
    _end_to_end_invariance,
    _herm,
    _noether,
    directional_derivative,
)
from .identities_report import Identity, IdentityReport, _prove_poly, prove_identity
from .matrices import (
    DEFAULT_MAX_SYMBOLS,
    PolyAlgebra,
    _check_flag,
    check_symbol_budget,
    lie_algebra_symbol_count,
    matrix_symbols,
    symbolic_lie_algebra,
    symbolic_weights,
    weight_symbol_count,
)
from .moment_map import _action, _adjoint, _curve, _derive_poly

__all__ = [
    "DEFAULT_IDENTITY_MAX_COST",
    "Identity",
    "IdentityReport",
    "directional_derivative",
    "identity_cost",
    "prove_identities",
    "prove_identity",
]

_NO_LIMIT = 10**9


#: Default cost budget of :func:`prove_identities` (:func:`identity_cost`; about 1-9 microseconds per
#: unit measured, so the default allows up to about a minute).
DEFAULT_IDENTITY_MAX_COST = 1e7


def identity_cost(widths, *, complex: bool = False) -> int:
    """Estimated cost of :func:`prove_identities`: ``n^3 + 2 d_max N n T_X``.

    ``n`` is the number of real symbols of W, dW and xi. Every polynomial of the proof lives in a
    ring with one generator per real symbol (a monomial is a tuple of ``n`` exponents, so every
    operation on a term costs ``n``), and the number of term operations grows like ``n^2``
    (products of matrices whose entries have O(n) terms). ``T_X = d_0 d_N prod(hidden widths)``
    (times ``2^N`` for complex weights, whose path products expand into ``2^N`` real monomials)
    is the number of terms of the end-to-end map in real coordinates: the gauge identities
    differentiate it along its ``N`` factors and pair it with ``A_W(xi)`` (``2 d_max`` terms per
    entry). Measured on real and complex patterns of depth 2-10 ((2,2,2) ... (6,6,6), (2,)*10,
    (1,)*30), the time per unit stays within about 1-9 microseconds on a loaded 2-core machine; the
    symbol limit alone let 20-minute proofs through ((2,)*8 complex: 160 symbols, but
    ``T_X = 65536``).
    """
    widths = as_widths(widths)
    n = 2 * weight_symbol_count(widths, complex=complex) + lie_algebra_symbol_count(widths, complex=complex)
    N = len(widths) - 1
    T_X = math.prod(widths) * (2**N if complex else 1)
    return n**3 + 2 * max(widths) * N * n * T_X


def _check_args(widths, complex, max_symbols, max_cost) -> tuple[tuple[int, ...], bool]:
    widths = as_widths(widths)
    complex_ = _check_flag(complex, "complex")
    (max_cost,) = check_options(max_cost=(max_cost, Rule.positive("the cost budget of the proof")))
    count = 2 * weight_symbol_count(widths, complex=complex_) + lie_algebra_symbol_count(widths, complex=complex_)
    check_symbol_budget(count, max_symbols, f"the symbolic identities for widths {widths} (W, dW and xi)")
    cost = identity_cost(widths, complex=complex_)
    if cost > max_cost:
        kind = "complex" if complex_ else "real"
        raise ValueError(
            f"prove_identities: widths {widths} ({kind}) need {count} real symbols and an estimated cost of "
            f"{cost:.3g} (identity_cost), more than max_cost = {max_cost:.3g} (about 1-9 microseconds per "
            "unit); pass a larger max_cost= to proceed anyway"
        )
    return widths, complex_


def prove_identities(
    widths,
    *,
    complex: bool = False,
    max_symbols: int = DEFAULT_MAX_SYMBOLS,
    max_cost: float = DEFAULT_IDENTITY_MAX_COST,
) -> IdentityReport:
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
    max_cost : float
        Refuse, before any work, patterns whose estimated cost :func:`identity_cost` exceeds this
        (default :data:`DEFAULT_IDENTITY_MAX_COST`, about a minute), with a ``ValueError`` naming
        both. The symbol limit alone does not bound the time: ``(4, 4, 4, 4)`` complex (256
        symbols) and ``(2,) * 8`` complex (160) ran for more than 2 minutes.

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
    identity is sympy's own (on ``E(u_0(w), ..., u_{n-1}(w))`` with undefined functions ``u_j`` standing
    for the real coordinates of X; their derivatives are then taken in the polynomial ring, which
    avoids handing the expanded X, with up to ``2^N prod(widths)`` terms, to ``sympy.diff``).
    """
    widths, complex_ = _check_args(widths, complex, max_symbols, max_cost)
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
