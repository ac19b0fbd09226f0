"""The generators ``grad phi_k`` of :mod:`dln_git.symbolic.conservation` as sparse polynomials.

The parameters ``theta`` (real coordinates) are laid out ``W_1, [b_1], W_2, [b_2], ...``, each
``W_l`` row-major; with complex weights every entry ``w = x + i y`` contributes two real
coordinates, ``x`` then ``y``. The components of ``phi`` are

* linear network: the entries ``X[o, i]`` of ``X = W_N ... W_1`` (complex weights: their real and
  imaginary parts ``Re X[o, i]``, ``Im X[o, i]``), each a sum of path products
  ``W_N[o, a_{N-1}] ... W_1[a_1, i]``;
* ReLU network on the region where every neuron is active: one component per path, starting at
  an input or (``bias=True``) at the bias of a neuron.

A complex path product expands in real coordinates into ``2^N`` monomials: choosing the imaginary
part in ``k`` of its ``N`` factors gives ``i^k`` times a real monomial, a term of the real part
with sign ``(-1)^(k/2)`` (k even) or of the imaginary part with sign ``(-1)^((k-1)/2)`` (k odd).
Every coefficient is therefore ``+1`` or ``-1``; no term repeats (a monomial and its component
determine the path and the choice of parts).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..core.weights import random_weights
from .hyperdual import dual_mul, excluded_products, scatter

__all__ = [
    "Generators",
    "build_generators",
    "generator_terms",
    "integer_point",
    "layout",
    "random_point",
    "weights_of_point",
]

_EXACT_POINT_RANGE = 10**6  # integer point entries: nonzero, of absolute value <= 10^6


class Generators:
    """The fields ``grad phi_k`` as sparse polynomials with coefficients ``+-1``.

    ``blocks[q] = (gid, comp, idx, coef)``: one row per term of degree ``q``, the monomial
    ``coef[t] prod_j x[idx[t, j]]`` in component ``comp[t]`` of generator ``gid[t]``; rows sorted
    by ``(gid, comp)``.
    """

    def __init__(self, D: int, m: int, blocks: dict):
        self.D = D
        self.m = m
        self.blocks = blocks
        self._bounds = {q: np.searchsorted(b[0], np.arange(m + 1)) for q, b in blocks.items()}
        self._parts: dict[int, list] = {}
        self.terms = np.zeros(m, dtype=np.int64)  # terms[g] * max(q - 1, 1): products per evaluation
        for q, (gid, _, _, _) in blocks.items():
            self.terms += np.bincount(gid, minlength=m) * max(q - 1, 1)

    def parts(self, g: int) -> list:
        """Terms of generator ``g``: per degree ``(q, components, group starts, idx, coef)``."""
        out = self._parts.get(g)
        if out is None:
            out = []
            for q, (_, comp, idx, coef) in self.blocks.items():
                lo, hi = self._bounds[q][g], self._bounds[q][g + 1]
                if hi > lo:
                    c = comp[lo:hi]
                    first = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
                    out.append((q, c[first], first, idx[lo:hi], coef[lo:hi]))
            self._parts[g] = out
        return out

    def values(self, x: np.ndarray) -> np.ndarray:
        """``D x m`` matrix of the values ``grad phi_k(x)`` at a plain (float or integer) point."""
        D, m = self.D, self.m
        out = np.zeros(D * m, dtype=x.dtype)
        for q, (gid, comp, idx, coef) in self.blocks.items():
            vals = np.prod(x[idx], axis=1) if q else np.ones(gid.shape[0], dtype=x.dtype)
            out = out + scatter(gid * D + comp, vals * coef, D * m)
        return out.reshape(m, D).T

    def jacobian_triplets(self, selected, x: np.ndarray):
        """Rows ``p D + c``, columns ``v``, values ``d(grad phi_{selected[p]})_c / dx_v`` at ``x``."""
        D = self.D
        pos = np.full(self.m, -1, dtype=np.int64)
        pos[np.asarray(selected, dtype=np.int64)] = np.arange(len(selected))
        rows, cols, vals = [], [], []
        for q, (gid, comp, idx, coef) in self.blocks.items():
            keep = pos[gid] >= 0
            if q == 0 or not np.any(keep):
                continue
            ix = idx[keep]
            rows.append(np.repeat(pos[gid[keep]] * D + comp[keep], q))
            cols.append(ix.ravel())
            vals.append((excluded_products(x[ix]) * coef[keep][:, None]).ravel())
        if not rows:
            z = np.zeros(0, dtype=np.int64)
            return z, z, np.zeros(0, dtype=x.dtype)
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)

    def dual(self, g: int, X: np.ndarray, n: int) -> np.ndarray:
        """Generator ``g`` at a batch of hyper-dual points ``X`` of shape ``(B, D, 2^n)``."""
        B = X.shape[0]
        out = np.zeros((B, self.D, 1 << n), dtype=X.dtype)
        for q, ucomp, first, idx, coef in self.parts(g):
            if q == 0:
                val = np.zeros((B, idx.shape[0], 1 << n), dtype=X.dtype)
                val[..., 0] = 1
            else:
                val = X[:, idx[:, 0], :]
                for j in range(1, q):
                    val = dual_mul(val, X[:, idx[:, j], :], n)
            out[:, ucomp, :] += np.add.reduceat(val * coef[None, :, None], first, axis=1)
        return out


def layout(widths: tuple[int, ...], bias: bool, complex_: bool = False):
    """Offsets of ``W_l`` (row-major) and ``b_l`` in the complex entries, ``D`` real coordinates."""
    woff, boff = [0], [0]  # index 0 unused: layers are 1-based
    n = 0
    for ell in range(1, len(widths)):
        woff.append(n)
        n += widths[ell] * widths[ell - 1]
        boff.append(n)
        if bias:
            n += widths[ell]
    return (2 * n if complex_ else n), woff, boff


def generator_terms(widths: tuple[int, ...], activation: str, bias: bool, complex_: bool = False) -> tuple[int, int]:
    """``(m, T)``: the number of components of ``phi`` and the number of terms of all generators.

    Computed from the widths alone (nothing is built): a path through ``L`` weights is a monomial
    of degree ``L`` (``2^L`` real monomials with complex weights), whose gradient has ``L`` terms.
    """
    L = len(widths) - 1
    starts = [0, *range(1, L + 1)] if bias else [0]
    T, n_paths = 0, 0
    for start in starts:
        paths = math.prod(widths[start:])
        length = L - start + (1 if start else 0)
        T += paths * length * (2**length if complex_ else 1)
        n_paths += paths
    m = widths[0] * widths[-1] * (2 if complex_ else 1) if activation == "linear" else n_paths
    return m, T


def _path_monomials(widths, woff, boff, start: int):
    """Entry indices of every path from layer ``start`` to the output, one row per path.

    ``start = 0``: paths from an input node; ``start >= 1``: paths from the bias of a neuron of
    layer ``start``. Returns ``(rows, first node, last node)``.
    """
    L = len(widths) - 1
    nodes = np.indices(widths[start:]).reshape(L - start + 1, -1)  # nodes[l - start] = a_l
    cols = [] if start == 0 else [boff[start] + nodes[0]]
    for ell in range(start + 1, L + 1):
        a_prev, a_cur = nodes[ell - 1 - start], nodes[ell - start]
        cols.append(woff[ell] + a_cur * widths[ell - 1] + a_prev)
    return np.stack(cols, axis=1), nodes[0], nodes[-1]


def _real_expansion(rows: np.ndarray, gid: np.ndarray):
    """Complex path products ``prod_j z[rows[:, j]]`` in real coordinates (``z_e = x_{2e} + i x_{2e+1}``).

    Returns ``(rows, gid, coef)`` of the ``2^q`` real monomials per path: the component is
    ``2 gid`` (real part) or ``2 gid + 1`` (imaginary part), the coefficient ``+-1``.
    """
    q = rows.shape[1]
    out_rows, out_gid, out_coef = [], [], []
    for parts in itertools.product((0, 1), repeat=q):
        k = sum(parts)
        out_rows.append(2 * rows + np.array(parts))
        out_gid.append(2 * gid + (k % 2))
        sign = -1 if (k // 2) % 2 else 1
        out_coef.append(np.full(rows.shape[0], sign, dtype=np.int64))
    return np.concatenate(out_rows), np.concatenate(out_gid), np.concatenate(out_coef)


def build_generators(widths: tuple[int, ...], activation: str, bias: bool, complex_: bool = False) -> Generators:
    """The generators of the network (see the module docstring); ``complex_`` only for linear."""
    D, woff, boff = layout(widths, bias, complex_)
    L = len(widths) - 1
    starts = [0, *range(1, L + 1)] if bias else [0]
    by_degree: dict[int, list] = {}
    n_paths = 0
    for start in starts:
        rows, first, last = _path_monomials(widths, woff, boff, start)
        if activation == "linear":  # phi_{o,i} = X[o, i]: the sum of the paths from i to o
            gid = last * widths[0] + first
        else:  # ReLU: one component per path
            gid = n_paths + np.arange(rows.shape[0])
            n_paths += rows.shape[0]
        coef = np.ones(rows.shape[0], dtype=np.int64)
        if complex_:
            rows, gid, coef = _real_expansion(rows, gid)
        q = rows.shape[1]
        for j in range(q):  # d/d theta_{rows[:, j]} of a path monomial: the product of the others
            by_degree.setdefault(q - 1, []).append((gid, rows[:, j], np.delete(rows, j, axis=1), coef))
    m, _ = generator_terms(widths, activation, bias, complex_)
    blocks = {}
    for q, parts in by_degree.items():
        gid = np.concatenate([p[0] for p in parts]).astype(np.int64)
        comp = np.concatenate([p[1] for p in parts]).astype(np.int64)
        idx = np.concatenate([p[2] for p in parts]).astype(np.intp)
        coef = np.concatenate([p[3] for p in parts]).astype(np.int64)
        order = np.lexsort((comp, gid))
        blocks[q] = (gid[order], comp[order], idx[order], coef[order])
    return Generators(D, m, blocks)


def random_point(widths, bias: bool, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """Gaussian weights (``random_weights``: variance ``1/d_{l-1}``) and standard normal biases,
    as real coordinates (complex entries as ``Re, Im`` pairs)."""
    W = random_weights(widths, rng, complex=complex_)
    parts = []
    for w in W:
        parts.append(np.stack([w.real, w.imag], axis=-1).ravel() if complex_ else w.ravel())
        if bias:
            parts.append(rng.standard_normal(w.shape[0]))
    return np.concatenate(parts)


def weights_of_point(x: np.ndarray, widths, complex_: bool = False) -> tuple[np.ndarray, ...]:
    """The weights ``(W_1, ..., W_N)`` of a point of a linear network (inverse of the layout)."""
    out, off = [], 0
    for i in range(1, len(widths)):
        n = widths[i] * widths[i - 1]
        if complex_:
            v = x[2 * off : 2 * (off + n)]
            w = v[0::2] + 1j * v[1::2]
        else:
            w = x[off : off + n]
        out.append(np.array(w, dtype=complex if complex_ else float).reshape(widths[i], widths[i - 1]))
        off += n
    return tuple(out)


def integer_point(D: int, rng: np.random.Generator) -> np.ndarray:
    """Random nonzero integers of absolute value at most ``10^6``, as Python ints.

    Integers are rational points (a rational point with its denominators cleared). Every rank
    decision of the iteration is whether some integer polynomial in the point (a minor of the
    values) vanishes; by the Schwartz-Zippel lemma a nonzero polynomial of degree ``k`` vanishes
    at a random point of ``S^D`` with probability at most ``k / |S|``, here ``|S| = 2 * 10^6``
    (the minors met here have degree a few hundred at most).
    """
    mag = rng.integers(1, _EXACT_POINT_RANGE + 1, size=D)
    sign = rng.choice(np.array([-1, 1]), size=D)
    return np.array([int(v) for v in mag * sign], dtype=object)
