"""Independent helpers for the decomposition tests (docs/math section 4), plain numpy from the
defining formulas; nothing here is imported from ``dln_git``."""

from __future__ import annotations

from functools import reduce

import numpy as np


def product(W):
    """X = W_N ... W_1."""
    return reduce(lambda acc, w: w @ acc, W[1:], W[0])


def moment(W):
    """mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}."""
    return [W[i] @ W[i].conj().T - W[i + 1].conj().T @ W[i + 1] for i in range(len(W) - 1)]


def tnorm(mats) -> float:
    return float(np.sqrt(sum(np.linalg.norm(m) ** 2 for m in mats)))


def partial_products(W):
    """(B_j, F_{j-1}) for j = 1..N: B_j = W_N..W_{j+1}, F_{j-1} = W_{j-1}..W_1 (identities at the ends)."""
    out = []
    for j in range(1, len(W) + 1):
        B = reduce(lambda acc, w: w @ acc, W[j:], np.eye(W[j - 1].shape[0]))
        F = reduce(lambda acc, w: w @ acc, W[: j - 1], np.eye(W[0].shape[1]))
        out.append((B, F))
    return out


def grad_data(W, G):
    """grad_{W_j} E = B_j^* G F_{j-1}^*."""
    return [B.conj().T @ G @ F.conj().T for B, F in partial_products(W)]


def metric(W, G):
    """dphi dphi^*(G) = sum_j B_j B_j^* G F_{j-1}^* F_{j-1}."""
    return sum(B @ B.conj().T @ G @ F.conj().T @ F for B, F in partial_products(W))


def random_matrix(rng, shape, complex_=False):
    M = rng.standard_normal(shape)
    return M + 1j * rng.standard_normal(shape) if complex_ else M


def balanced_aligned(rng, widths, rank, complex_=False, spread=(0.5, 1.5)):
    """SVD-chart balanced weights of a random rank-r X, and X from its own factors."""
    from scipy.stats import ortho_group, unitary_group

    def frame(d):
        if d == 1:
            return np.ones((1, 1), dtype=complex if complex_ else float)[:, :rank]
        Q = unitary_group.rvs(d, random_state=rng) if complex_ else ortho_group.rvs(d, random_state=rng)
        return Q[:, :rank]

    frames = [frame(d) for d in widths]
    s = rng.uniform(*spread, size=rank)
    N = len(widths) - 1
    root = np.diag(s ** (1.0 / N))
    W = tuple(frames[i] @ root @ frames[i - 1].conj().T for i in range(1, N + 1))
    X = frames[-1] @ np.diag(s) @ frames[0].conj().T
    return W, X
