"""Claims of MATH.md section 3 (balancing flows on fibers). So far: the N = 2 oracle."""

from __future__ import annotations

import numpy as np

from ..core import end_to_end, moment_norm, random_weights, regularizer
from .registry import ClaimResult, register


@register(
    "flows.n2_geometric_mean",
    "N = 2: g = H^{1/2} with H = P^{-1/2}(P^{1/2} Q P^{1/2})^{1/2} P^{-1/2} (P = W_1W_1^*, Q = W_2^*W_2)"
    " balances the orbit: mu(g.W) = 0, X unchanged, R(g.W) = ||X||_* (the minimum on the fiber).",
    section="3", tag="derived",
)
def _n2_geometric_mean(rng, size):
    from ..flows import geometric_mean_balance

    worst = 0.0
    for k in range(6 if size == "small" else 40):
        d1 = int(rng.integers(1, 5))
        widths = (d1 + int(rng.integers(0, 3)), d1, d1 + int(rng.integers(0, 3)))
        W = random_weights(widths, rng, complex=bool(k % 2))
        Wb = geometric_mean_balance(W).weights
        X = end_to_end(W)
        worst = max(
            worst,
            moment_norm(Wb) / (2 * regularizer(Wb)),
            np.linalg.norm(end_to_end(Wb) - X) / np.linalg.norm(X),
            abs(regularizer(Wb) / np.linalg.norm(X, "nuc") - 1),
        )
    return ClaimResult(worst, 0.0, 1e-10, detail="closed-orbit widths d_1 <= min(d_0, d_2), real and complex; "
                       "max of ||mu||/2R, relative X change, |R/||X||_* - 1|")
