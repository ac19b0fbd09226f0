"""Exact polynomial backend of the symbolic layer: :class:`PolyAlgebra` and :class:`PolyMatrix`.

Polynomials in real symbols over the Gaussian rationals (sympy's sparse ``PolyRing`` over
``QQ_I``), always in expanded canonical form, so "expands to zero" is "has no terms". The
derivations of :mod:`dln_git.symbolic.moment_map` and the proofs of
:mod:`dln_git.symbolic.identities` run here; :func:`_fast` dispatches a computation to this
backend when its inputs are polynomials with exact coefficients, and to plain sympy otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy
from sympy.polys.domains import QQ_I
from sympy.polys.polyerrors import BasePolynomialError
from sympy.polys.rings import PolyElement, PolyRing

__all__ = ["PolyAlgebra", "PolyMatrix"]


class PolyAlgebra:
    """Exact arithmetic on polynomials in real symbols: sympy's sparse ring ``QQ_I[symbols]``.

    The derivations and proofs of this package do their algebra here rather than on ``sympy.Expr``
    trees: a ``PolyElement`` is always in expanded canonical form (a dict monomial -> Gaussian
    rational), so products, derivatives and the test ``p == 0`` are exact and 10-100 times faster
    than ``expand`` on expressions (whose cost is dominated by the assumptions system). Every
    generator is a *real* symbol, so complex conjugation conjugates the coefficients.

    Parameters
    ----------
    symbols : sequence of sympy.Symbol
        The real symbols (generators), e.g. ``matrix_symbols(W) + matrix_symbols(xi) + [t]``.
    """

    def __init__(self, symbols):
        symbols = tuple(symbols)
        if len(set(symbols)) != len(symbols):
            raise ValueError("repeated symbols")
        for x in symbols:
            if not (isinstance(x, sympy.Symbol) and x.is_real):
                raise ValueError(f"generator {x!r} is not a real sympy Symbol")
        self.symbols = symbols
        self.ring = PolyRing(symbols, QQ_I)
        self._index = {x: k for k, x in enumerate(symbols)}

    def gen(self, x: sympy.Symbol) -> PolyElement:
        """The generator of the real symbol ``x``."""
        return self.ring.gens[self._index[x]]

    def index(self, x: sympy.Symbol) -> int:
        """Position of ``x`` among the generators (its slot in a monomial's exponent tuple)."""
        return self._index[x]

    def poly(self, e) -> PolyElement:
        """A polynomial (sympy expression or number) in the generators, as a ring element."""
        return self.ring.from_expr(sympy.sympify(e))

    def scalar(self, c) -> PolyElement:
        """``c`` (a ring element, an int, or a sympy number such as ``Rational(1, 2)`` or ``I``)."""
        if isinstance(c, PolyElement):
            return c
        return self.ring.ground_new(self.ring.domain.from_sympy(sympy.sympify(c)))

    def matrix(self, M) -> PolyMatrix:
        """A sympy matrix with polynomial entries, as a :class:`PolyMatrix`."""
        r, c = M.shape
        return PolyMatrix(self, [[self.poly(M[a, b]) for b in range(c)] for a in range(r)])

    def matrices(self, Ms) -> tuple[PolyMatrix, ...]:
        return tuple(self.matrix(M) for M in Ms)

    def convert(self, p: PolyElement) -> PolyElement:
        """``p`` from another :class:`PolyAlgebra` whose symbols are all generators here."""
        if p.ring is self.ring:
            return p
        pos = [self._index[x] for x in p.ring.symbols]
        n = len(self.symbols)
        out = {}
        for m, c in p.items():
            e = [0] * n
            for k, a in zip(pos, m, strict=True):
                e[k] = a
            out[tuple(e)] = c
        return self.ring.from_dict(out)

    def substitute(self, p: PolyElement, shift: Mapping) -> PolyElement:
        """Simultaneous substitution ``{symbol: polynomial}`` of generators by ring elements."""
        return p.compose([(self.gen(x), g) for x, g in shift.items()]) if shift else p

    def conj(self, p: PolyElement) -> PolyElement:
        """Complex conjugate (conjugates the coefficients: every generator is real)."""
        return self.ring.from_dict({m: QQ_I(c.x, -c.y) for m, c in p.items()})

    def re(self, p: PolyElement) -> PolyElement:
        """Real part: the real parts of the coefficients."""
        return self.ring.from_dict({m: QQ_I(c.x, 0) for m, c in p.items() if c.x})

    def im(self, p: PolyElement) -> PolyElement:
        """Imaginary part: the imaginary parts of the coefficients."""
        return self.ring.from_dict({m: QQ_I(c.y, 0) for m, c in p.items() if c.y})

    def truncate(self, p: PolyElement, t: sympy.Symbol, order: int) -> PolyElement:
        """Drop the terms of degree > ``order`` in ``t`` (a t-jet: exact for derivatives in t at 0 up
        to that order)."""
        k = self._index[t]
        return self.ring.from_dict({m: c for m, c in p.items() if m[k] <= order})

    def _t_parts(self, p: PolyElement, k: int, order: int) -> dict[int, PolyElement]:
        parts: dict[int, dict] = {}
        for m, c in p.items():
            if m[k] <= order:
                parts.setdefault(m[k], {})[m] = c
        return {j: self.ring.from_dict(d) for j, d in parts.items()}

    def mul_truncated(self, p: PolyElement, q: PolyElement, t: sympy.Symbol, order: int) -> PolyElement:
        """``p q`` with the terms of degree > ``order`` in ``t`` dropped (product of t-jets).

        Equal to ``truncate(p * q, t, order)``, without forming the discarded high-order products.
        """
        k = self._index[t]
        P, Q = self._t_parts(p, k, order), self._t_parts(q, k, order)
        out = self.ring.zero
        for i, pi in P.items():
            for j, qj in Q.items():
                if i + j <= order:
                    out += pi * qj
        return out

    def diff(self, p: PolyElement, x: sympy.Symbol) -> PolyElement:
        """Partial derivative in the generator ``x``."""
        return p.diff(self.gen(x))

    def at_zero(self, p: PolyElement, x: sympy.Symbol) -> PolyElement:
        """``p`` with ``x = 0``."""
        k = self._index[x]
        return self.ring.from_dict({m: c for m, c in p.items() if m[k] == 0})

    def inner(self, A, B) -> PolyElement:
        """``<A, B> = sum_i Re tr(A_i^* B_i)`` for sequences of :class:`PolyMatrix`."""
        s = self.ring.zero
        for a, b in zip(A, B, strict=True):
            if a.shape != b.shape:
                raise ValueError(f"shapes {a.shape} and {b.shape} differ")
            for p, q in zip(a, b, strict=True):
                s += self.conj(p) * q
        return self.re(s)

    def eye(self, n: int) -> PolyMatrix:
        one, zero = self.ring.one, self.ring.zero
        return PolyMatrix(self, [[one if a == b else zero for b in range(n)] for a in range(n)])

    def zeros(self, r: int, c: int) -> PolyMatrix:
        return PolyMatrix(self, [[self.ring.zero] * c for _ in range(r)])


class PolyMatrix:
    """A dense matrix of :class:`PolyAlgebra` ring elements.

    Supports ``+``, ``-``, unary ``-``, matrix ``*`` and scalar ``*`` (ring elements, ints, sympy
    numbers, on either side), ``.H`` (conjugate transpose), ``.shape``, row-major iteration,
    ``[a, b]`` indexing, and the ``eye``/``zeros`` constructors that ``sympy.Matrix`` also has, so
    the formulas of :mod:`dln_git.symbolic.moment_map` run unchanged on both.
    """

    __slots__ = ("algebra", "rows")

    def __init__(self, algebra: PolyAlgebra, rows):
        self.algebra = algebra
        self.rows = [list(r) for r in rows]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.rows[0]) if self.rows else 0)

    def __iter__(self):
        for r in self.rows:
            yield from r

    def __len__(self) -> int:
        r, c = self.shape
        return r * c

    def __getitem__(self, ab):
        a, b = ab
        return self.rows[a][b]

    def _check_same(self, other):
        if not isinstance(other, PolyMatrix) or other.shape != self.shape:
            raise ValueError(f"cannot combine a {self.shape} PolyMatrix with {other!r}")

    def __add__(self, other):
        self._check_same(other)
        return PolyMatrix(
            self.algebra,
            [[p + q for p, q in zip(r, s, strict=True)] for r, s in zip(self.rows, other.rows, strict=True)],
        )

    def __sub__(self, other):
        self._check_same(other)
        return PolyMatrix(
            self.algebra,
            [[p - q for p, q in zip(r, s, strict=True)] for r, s in zip(self.rows, other.rows, strict=True)],
        )

    def __neg__(self):
        return PolyMatrix(self.algebra, [[-p for p in r] for r in self.rows])

    def __mul__(self, other):
        if isinstance(other, PolyMatrix):
            (_, k), (k2, c) = self.shape, other.shape
            if k != k2:
                raise ValueError(f"shapes {self.shape} and {other.shape} do not multiply")
            zero = self.algebra.ring.zero
            cols = [[other.rows[j][b] for j in range(k)] for b in range(c)]
            out = []
            for row in self.rows:
                out.append([sum((p * q for p, q in zip(row, col, strict=True) if p and q), zero) for col in cols])
            return PolyMatrix(self.algebra, out)
        s = self.algebra.scalar(other)
        return PolyMatrix(self.algebra, [[p * s for p in r] for r in self.rows])

    def __rmul__(self, other):
        s = self.algebra.scalar(other)
        return PolyMatrix(self.algebra, [[s * p for p in r] for r in self.rows])

    def __truediv__(self, other):
        return self * (sympy.Integer(1) / sympy.sympify(other))

    @property
    def H(self) -> PolyMatrix:
        """Conjugate transpose."""
        conj = self.algebra.conj
        r, c = self.shape
        return PolyMatrix(self.algebra, [[conj(self.rows[a][b]) for a in range(r)] for b in range(c)])

    def convert(self, algebra: PolyAlgebra) -> PolyMatrix:
        """This matrix in another (larger) :class:`PolyAlgebra`."""
        return PolyMatrix(algebra, [[algebra.convert(p) for p in r] for r in self.rows])

    def applyfunc(self, f) -> PolyMatrix:
        return PolyMatrix(self.algebra, [[f(p) for p in r] for r in self.rows])

    def eye(self, n: int) -> PolyMatrix:
        return self.algebra.eye(n)

    def zeros(self, r: int, c: int) -> PolyMatrix:
        return self.algebra.zeros(r, c)

    def is_zero_matrix(self) -> bool:
        return all(not p for p in self)

    def to_sympy(self) -> sympy.ImmutableMatrix:
        """The entries as (expanded) sympy expressions."""
        r, c = self.shape
        return sympy.ImmutableMatrix(r, c, [p.as_expr() for p in self])

    def __repr__(self) -> str:
        return f"PolyMatrix({self.shape[0]}x{self.shape[1]})"


# ----------------------------------------------------------------------------- dispatch


def _algebra_for(*objs) -> PolyAlgebra | None:
    """A :class:`PolyAlgebra` over the free symbols of ``objs`` if they are all real symbols and
    every entry is a polynomial with exact coefficients; ``None`` otherwise (use plain sympy)."""
    free: set = set()
    for o in objs:
        if o.has(sympy.Float):
            return None
        free |= o.free_symbols
    if not free or not all(isinstance(x, sympy.Symbol) and x.is_real for x in free):
        return None
    return PolyAlgebra(sorted(free, key=sympy.default_sort_key))


def _fast(objs, poly_route, expr_route):
    """Run ``poly_route(alg)`` on the exact backend when possible, else ``expr_route()``."""
    alg = _algebra_for(*objs)
    if alg is not None:
        try:
            return poly_route(alg)
        except (BasePolynomialError, ValueError):
            pass  # not a polynomial in the symbols (e.g. 1/x): fall back to sympy expressions
    return expr_route()


def _back(mats) -> tuple[sympy.Matrix, ...]:
    return tuple(sympy.Matrix(M.to_sympy()) for M in mats)
