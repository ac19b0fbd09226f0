"""The bracket iteration of :mod:`dln_git.symbolic.conservation`: values of nested brackets at a
point, rank bookkeeping (float and exact), and the cost model that budgets the work.

Cost model. The unit is one coefficient product of the hyper-dual arithmetic
(:mod:`dln_git.symbolic.hyperdual`). Evaluating generator ``g`` at a batch of ``B`` points with
``n`` infinitesimals costs ``c(g, n) = B T_g 3^n``, ``T_g`` the number of its terms times their
degree minus one. The value of a chain ``(g_k, ..., g_1)`` at ``n`` infinitesimals costs
``E(k, n) = c(g_k, n) + E(k - 1, n + 1) + c(g_k, n + 1)``, ``E(1, n) = c(g_1, n)``
(:func:`_eval_chain`); testing its ``s`` candidates against the span costs ``D^2 s``, and the
products ``Dg_p(x)[Y(x)]`` the number ``J`` of Jacobian entries of the selected generators. The
exact run does the same operations on Python integers, :data:`EXACT_COST_FACTOR` times dearer.
Before every chain the iteration charges its cost to a :class:`Budget`; when the budget cannot
pay, the iteration stops (``stopped_by = "max_cost"``) and the rank is a lower bound.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .conservation_generators import Generators
from .hyperdual import lift, scatter

__all__ = ["BLAS_WEIGHT", "EXACT_COST_FACTOR", "Budget", "Run", "chain_cost", "iterate"]

_CHUNK_COLUMNS = 2048  # candidates tested together against the span
#: Measured ratio of the time of one coefficient operation on Python integers (object arrays) to
#: one on float64, for the operations of the iteration (about 30-60 on the machines we measured).
EXACT_COST_FACTOR = 50
#: Units per floating-point operation of dense linear algebra (measured: BLAS runs 10-50 flops in
#: the time of one indexed hyper-dual product).
BLAS_WEIGHT = 0.03


class Budget:
    """A cost allowance shared by the runs of one count: :meth:`charge` pays or refuses."""

    def __init__(self, limit: float):
        self.limit = float(limit)
        self.spent = 0.0

    def charge(self, cost: float) -> bool:
        """Pay ``cost`` if it fits in what is left; ``False`` (and nothing paid) otherwise."""
        if self.spent + cost > self.limit:
            return False
        self.spent += cost
        return True


def chain_cost(terms: np.ndarray, chain: tuple[int, ...], batch: int, n: int = 1) -> float:
    """``E(k, n)`` of the module docstring for ``chain = (g_k, ..., g_1)`` at ``n`` infinitesimals."""
    cost = 0.0
    for j, g in enumerate(chain[:-1]):
        cost += batch * float(terms[g]) * (3.0 ** (n + j) + 3.0 ** (n + j + 1))
    return cost + batch * float(terms[chain[-1]]) * 3.0 ** (n + len(chain) - 1)


class _FloatSpan:
    """Orthonormal basis ``B`` (``D x rank``) of the span kept so far (memory ``D rank``)."""

    def __init__(self, D: int, tol: float):
        self.D = D
        self.tol = tol
        self.B = np.zeros((D, 0))
        self.largest_discarded = 0.0

    @property
    def rank(self) -> int:
        return self.B.shape[1]

    def _residual(self, C: np.ndarray) -> np.ndarray:
        """``C - B B^T C``, projected twice (classical Gram-Schmidt with reorthogonalization)."""
        for _ in range(2):
            C = C - self.B @ (self.B.T @ C)
        return C

    def add(self, C: np.ndarray) -> np.ndarray:
        """Keep a maximal set of columns of ``C`` (already scaled) independent of the span.

        Pivoted QR of the components orthogonal to the span: column ``piv[j]`` is kept while
        ``|R_jj| > tol``; ``|R_jj|`` is the residual of that column after the columns kept
        before it, the largest among the remaining ones.
        """
        k = C.shape[1]
        if k == 0 or self.rank == self.D:  # nothing to test, or the span is R^D already
            return np.zeros(0, dtype=np.int64)
        res = self._residual(C)
        largest = float(np.sqrt(np.max(np.einsum("ij,ij->j", res, res))))
        if largest <= self.tol:  # the common case: every candidate is dependent, no QR needed
            self.largest_discarded = max(self.largest_discarded, largest)
            return np.zeros(0, dtype=np.int64)
        Q, R, piv = scipy.linalg.qr(res, mode="economic", pivoting=True)
        diag = np.abs(np.diagonal(R))
        a = 0
        while a < diag.shape[0] and a < self.D - self.rank and diag[a] > self.tol:
            a += 1
        if a < k:
            self.largest_discarded = max(self.largest_discarded, float(diag[a]) if a < diag.shape[0] else 0.0)
        if a:
            new = self._residual(Q[:, :a])  # orthogonal to B to rounding, then orthonormalized
            self.B = np.concatenate([self.B, np.linalg.qr(new)[0]], axis=1)
        return piv[:a]


class _ExactSpan:
    """Row echelon form over the integers (fraction-free elimination, rows divided by their gcd)."""

    def __init__(self, D: int):
        self.D = D
        self.rows: list[tuple[int, np.ndarray]] = []

    @property
    def rank(self) -> int:
        return len(self.rows)

    def add(self, C: np.ndarray) -> list[int]:
        kept = []
        for k in range(C.shape[1]):
            if len(self.rows) == self.D:
                break
            v = C[:, k]
            for p, r in self.rows:
                f = v[p]
                if f:
                    g = math.gcd(f, r[p])
                    v = (r[p] // g) * v - (f // g) * r
            nz = np.flatnonzero(v != 0)
            if nz.size == 0:
                continue
            g = math.gcd(*v[nz].tolist())
            if g > 1:
                v = v // g
            self.rows.append((int(nz[0]), v))
            kept.append(k)
        return kept


@dataclass
class Run:
    """Outcome of :func:`iterate` at one point."""

    rank: int
    generator_rank: int
    ranks_by_depth: tuple[int, ...]
    bracket_depth: int
    saturated: bool
    n_candidates: int
    kept_values: np.ndarray | None  # float run: D x rank, unit columns
    largest_discarded: float = math.nan
    stopped_by: str = "saturated"  # "saturated", "max_bracket_depth" or "max_cost"


def _eval_chain(gens: Generators, chain: tuple[int, ...], X: np.ndarray, n: int) -> np.ndarray:
    """Value of ``[g_k, [g_{k-1}, ..., [g_2, g_1]]]`` (``chain = (g_k, ..., g_1)``) at ``X``.

    ``X`` is a batch of hyper-dual points ``(B, D, 2^n)``. Uses
    ``[g, Z](x) = d/de Z(x + e g(x)) - d/de g(x + e Z(x))`` with a new infinitesimal ``e``.
    """
    g = chain[0]
    if len(chain) == 1:
        return gens.dual(g, X, n)
    h = 1 << n
    inner = _eval_chain(gens, chain[1:], lift(X, gens.dual(g, X, n)), n + 1)
    outer = gens.dual(g, lift(X, inner[..., :h]), n + 1)
    return inner[..., h:] - outer[..., h:]


def _generator_basis(gens: Generators, G: np.ndarray, span) -> tuple[list[int], list[np.ndarray]]:
    """A subset ``S_0`` of the generators whose values at the point are a basis of ``V(theta)``."""
    if isinstance(span, _ExactSpan):
        return [int(k) for k in span.add(G)], []
    D = gens.D
    norms = np.linalg.norm(G, axis=0)
    norms[norms == 0] = 1.0  # a zero column stays zero and is discarded
    Gn = G / norms
    order = np.arange(gens.m)
    if gens.m > D:  # many generators (ReLU paths): LU with partial pivoting puts D likely
        # independent columns first (a cheap level-3 preselection); every column is still tested
        with warnings.catch_warnings():  # rank deficiency is expected here, not an error
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            piv = scipy.linalg.lu_factor(Gn.T, check_finite=False)[1]
        for i, p in enumerate(piv):
            order[i], order[p] = order[p], order[i]
    S0: list[int] = []
    for lo in range(0, gens.m, max(_CHUNK_COLUMNS, D)):
        sel = order[lo : lo + max(_CHUNK_COLUMNS, D)]
        S0 += [int(sel[k]) for k in span.add(Gn[:, sel])]
    return S0, [Gn[:, k] for k in S0]


def iterate(gens: Generators, x: np.ndarray, max_depth: int | None, tol: float, budget: Budget) -> Run:
    """Kept chains and ranks by bracket depth at the point ``x`` (float, or object = exact)."""
    D = gens.D
    exact = x.dtype == object
    factor = EXACT_COST_FACTOR if exact else 1
    span = _ExactSpan(D) if exact else _FloatSpan(D, tol)
    G = gens.values(x)
    S0, values = _generator_basis(gens, G, span)
    s = len(S0)
    GS = G[:, S0]
    rows, cols, jvals = gens.jacobian_triplets(S0, x)
    # every candidate [g_p, Y] of a level is evaluated at the batch of points x + e g_p(x)
    X1 = lift(np.broadcast_to(x[None, :, None], (s, D, 1)), GS.T[:, :, None])
    frontier = [(g,) for g in S0]
    ranks = [span.rank]
    depth = 0
    n_candidates = 0
    stopped_by = "saturated"
    saturated = span.rank == D
    batch: list[tuple[tuple[int, ...], np.ndarray]] = []  # (chain of Y, values of [g_p, Y] for all p)
    scaled: list[np.ndarray] = []

    def flush(new: list) -> None:
        """Test the pending candidates together (few, large linear-algebra calls)."""
        if batch:
            for q in span.add(np.concatenate(scaled, axis=1)):
                b, p = divmod(int(q), s)
                chain, C = batch[b]
                new.append((S0[p], *chain))
                if not exact:
                    values.append(C[:, p] / np.linalg.norm(C[:, p]))
            batch.clear()
            scaled.clear()

    while not saturated:
        if max_depth is not None and depth >= max_depth:
            stopped_by = "max_bracket_depth"
            break
        new: list[tuple[int, ...]] = []
        for chain in frontier:
            if span.rank == D:
                break
            cost = factor * (chain_cost(gens.terms, chain, s) + BLAS_WEIGHT * 4 * s * D * D + jvals.shape[0])
            if not budget.charge(cost):
                stopped_by = "max_cost"
                break
            YX = _eval_chain(gens, chain, X1, 1)
            y = YX[0, :, 0]  # Y(x)
            T1 = YX[:, :, 1].T  # column p: DY(x)[g_p(x)]
            T2 = scatter(rows, jvals * y[cols], s * D).reshape(s, D).T  # column p: Dg_p(x)[Y(x)]
            C = T1 - T2  # column p: [g_p, Y](x)
            n_candidates += s
            batch.append((chain, C))
            if exact:
                scaled.append(C)
            else:
                scale = np.linalg.norm(T1, axis=0) + np.linalg.norm(T2, axis=0)
                scale[scale == 0] = 1.0
                scaled.append(C / scale)
            if len(batch) * s >= _CHUNK_COLUMNS:
                flush(new)
        flush(new)
        if stopped_by == "max_cost":
            if new:
                depth += 1
                ranks.append(span.rank)
            saturated = span.rank == D
            break
        if not new:
            saturated = True
            break
        depth += 1
        ranks.append(span.rank)
        frontier = new
        saturated = span.rank == D
    if saturated:
        stopped_by = "saturated"
    return Run(
        rank=span.rank,
        generator_rank=s,
        ranks_by_depth=tuple(ranks),
        bracket_depth=depth,
        saturated=saturated,
        n_candidates=n_candidates,
        kept_values=None if exact else (np.stack(values, axis=1) if values else np.zeros((D, 0))),
        largest_discarded=math.nan if exact else span.largest_discarded,
        stopped_by=stopped_by,
    )
