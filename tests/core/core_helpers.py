"""Helpers shared by the core tests (independent of the package's own code paths)."""

import numpy as np
from hypothesis import strategies as st

from dln_git.testing import dense
from dln_git.testing import strategies as dst

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def product(W) -> np.ndarray:
    """``W_N ... W_1`` by ``numpy.linalg.multi_dot`` (not the package's recursion)."""
    mats = list(reversed(W))
    return mats[0].copy() if len(mats) == 1 else np.linalg.multi_dot(mats)


def random_tuple(rng, shapes, is_complex: bool) -> tuple[np.ndarray, ...]:
    """Gaussian matrices of the given shapes (complex Gaussian when ``is_complex``)."""
    out = []
    for shp in shapes:
        M = rng.standard_normal(shp)
        if is_complex:
            M = M + 1j * rng.standard_normal(shp)
        out.append(M)
    return tuple(out)


@st.composite
def cases(draw, min_depth: int = 1, max_depth: int = 4, max_width: int = 4, scale: float = 1.0, widths=None):
    """``(widths, W, is_complex, rng)``: constructive weights of drawn (or given) widths, real or complex."""
    is_complex = draw(st.booleans())
    if widths is None:
        widths = dst.widths(min_depth=min_depth, max_depth=max_depth, max_width=max_width)
    d = draw(widths) if isinstance(widths, st.SearchStrategy) else widths
    W = draw(dst.weights(d, complex=is_complex, scale=scale))
    rng = np.random.default_rng(draw(SEEDS))
    return d, W, is_complex, rng


def dense_pinv(W):
    """(A^H A)^+ from the dense matrices, with the rank of A; also its effective condition."""
    A = dense.dense_infinitesimal_action(W)
    G = A.conj().T @ A
    r = dense.numerical_rank(A)
    lam, U = np.linalg.eigh(0.5 * (G + G.conj().T))
    lam, U = lam[::-1], U[:, ::-1]
    keep = U[:, :r]
    pinv = (keep / lam[:r]) @ keep.conj().T
    cond = lam[0] / lam[r - 1] if r else 1.0
    kernel = U[:, r:]
    return G, pinv, cond, kernel
