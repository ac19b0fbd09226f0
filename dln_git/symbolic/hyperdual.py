"""Multilinear hyper-dual numbers ``R[e_1, ..., e_n] / (e_1^2, ..., e_n^2)`` for exact brackets.

Used by :mod:`dln_git.symbolic.conservation` to evaluate nested Lie brackets of polynomial vector
fields without expanding them. An element is an array of shape ``(..., 2^n)``: the coefficient of
the monomial ``prod_{i in S} e_i`` sits at index ``S`` (a bit mask). The product is the subset
convolution

    (a b)_S = sum_{T ⊆ S} a_T b_{S \\ T},

``3^n`` coefficient products per element. The same code runs in float arithmetic and in exact
integer arithmetic (numpy object arrays of Python integers).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dual_mul", "dual_tables", "excluded_products", "lift", "scatter"]

_DUAL_TABLES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
#: Largest temporary of one subset convolution, in array elements (about 32 MB of float64): the
#: product is computed in slices of the leading axes so that no call allocates more than this.
MAX_TEMPORARY_ELEMENTS = 1 << 22


def dual_tables(n: int):
    """Pairs ``(T, S \\ T)`` for every ``T ⊆ S``, grouped by ``S``, and the group starts (``3^n`` pairs)."""
    tables = _DUAL_TABLES.get(n)
    if tables is None:
        left, right, starts = [], [], []
        for S in range(1 << n):
            starts.append(len(left))
            T = S
            while True:  # every submask T of S
                left.append(T)
                right.append(S ^ T)
                if T == 0:
                    break
                T = (T - 1) & S
        tables = _DUAL_TABLES[n] = (np.array(left), np.array(right), np.array(starts))
    return tables


def dual_mul(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Product in ``R[e_1..e_n]/(e_i^2)``: ``(ab)_S = sum_{T ⊆ S} a_T b_{S \\ T}`` (last axis).

    ``a`` and ``b`` have the same shape ``(..., 2^n)``. The ``3^n`` products per element are formed
    in slices of the leading axes, each temporary at most :data:`MAX_TEMPORARY_ELEMENTS` entries.
    """
    if n == 0:
        return a * b
    left, right, starts = dual_tables(n)
    h = a.shape[-1]
    a2, b2 = a.reshape(-1, h), b.reshape(-1, h)
    rows = a2.shape[0]
    step = max(1, MAX_TEMPORARY_ELEMENTS // left.shape[0])
    if rows <= step:
        return np.add.reduceat(a2[:, left] * b2[:, right], starts, axis=-1).reshape(a.shape)
    out = np.empty((rows, h), dtype=np.result_type(a, b))
    for lo in range(0, rows, step):
        out[lo : lo + step] = np.add.reduceat(a2[lo : lo + step, left] * b2[lo : lo + step, right], starts, axis=-1)
    return out.reshape(a.shape)


def lift(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``X + e_{n+1} V`` for ``X, V`` with ``2^n`` coefficients: the new bit is the highest one."""
    return np.concatenate([X, V], axis=-1)


def scatter(keys: np.ndarray, vals: np.ndarray, size: int) -> np.ndarray:
    """``out[k] = sum of vals with key k`` (float via bincount, exact integers via reduceat)."""
    if vals.dtype != object:
        return np.bincount(keys, weights=vals, minlength=size)
    out = np.zeros(size, dtype=object)
    if keys.shape[0]:
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))
        out[ks[starts]] = np.add.reduceat(vals[order], starts)
    return out


def excluded_products(X: np.ndarray) -> np.ndarray:
    """``out[t, j] = prod_{i != j} X[t, i]`` (the derivative of a monomial along its j-th factor)."""
    n = X.shape[0]
    ones = np.ones((n, 1), dtype=X.dtype)
    left = np.concatenate([ones, np.cumprod(X[:, :-1], axis=1)], axis=1)
    right = np.concatenate([np.cumprod(X[:, :0:-1], axis=1)[:, ::-1], ones], axis=1)
    return left * right
