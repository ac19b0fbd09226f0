"""Random test systems: stable (or with a given number of unstable poles), continuous or discrete."""

from __future__ import annotations

import numpy as np

from ..core.options import Rule, check_options
from .state_space import StateSpace

__all__ = ["random_state_space"]


def random_state_space(n: int, m: int, p: int, rng, *, dt: float | None = None, n_unstable: int = 0,
                       complex: bool = False) -> StateSpace:
    """A random system with Gaussian B, C, D and a random A with a stability margin.

    ``A = M - (max Re lambda(M) + margin) I`` (continuous, margin uniform in [0.1, 1]) or
    ``A = rho M / max|lambda(M)|`` (discrete, rho uniform in [0.5, 0.95]) with ``M`` Gaussian
    ``/ sqrt(n)``. With ``n_unstable > 0`` that many poles are moved across the boundary, away
    from it, by a similarity with a random well-conditioned matrix of a block-triangular A.
    With ``m, p`` much smaller than n the Hankel singular values decay below rounding and the
    system is numerically non-minimal; ``m = p = n // 2`` gives minimal systems. ``rng`` is a
    ``numpy.random.Generator`` or an int seed.
    """
    n, m, p, n_unstable = (check_options(**{k: (v, Rule.count(lo, k))})[0]
                           for k, v, lo in (("n", n, 0), ("m", m, 1), ("p", p, 1), ("n_unstable", n_unstable, 0)))
    if n_unstable > n:
        raise ValueError(f"n_unstable = {n_unstable} exceeds n = {n}")
    rng = np.random.default_rng(rng)  # a Generator is used as is; an int or None seeds one

    def gauss(*shape):
        g = rng.standard_normal(shape)
        return g + 1j * rng.standard_normal(shape) if complex else g

    ns = n - n_unstable
    blocks = []
    for k, unstable in ((ns, False), (n_unstable, True)):
        if k == 0:
            blocks.append(np.zeros((0, 0)))
            continue
        M = gauss(k, k) / np.sqrt(k)
        lam = np.linalg.eigvals(M)
        if dt is None:
            shift = rng.uniform(0.1, 1.0)
            A = M - (lam.real.max() + shift) * np.eye(k) if not unstable else M - (lam.real.min() - shift) * np.eye(k)
        else:
            if unstable:
                A = M / np.abs(lam).min() * rng.uniform(1.1, 2.0)
            else:
                A = M / np.abs(lam).max() * rng.uniform(0.5, 0.95)
        blocks.append(A)
    A = np.zeros((n, n), dtype=np.complex128 if complex else np.float64)
    A[:ns, :ns], A[ns:, ns:] = blocks
    if n_unstable and ns:
        A[:ns, ns:] = gauss(ns, n_unstable) / np.sqrt(n)
        Q = np.linalg.qr(gauss(n, n))[0]
        A = Q @ A @ Q.conj().T
    return StateSpace(A, gauss(n, m), gauss(p, n), gauss(p, m), dt)
