"""The Gram operator for equal hidden widths as batched products on the packed ``(H, d, d)`` view.

MATH.md section 2: ``(A_W^* A_W xi)_i = xi_i P_i + Q_i xi_i - W_i xi_{i-1} W_i^* -
W_{i+1}^* xi_{i+1} W_{i+1}`` with ``P_i = W_i W_i^*`` and ``Q_i = W_{i+1}^* W_{i+1}``. When every
hidden layer has the same width d, the packed Lie algebra vector is a ``(H, d, d)`` stack
(``H = N - 1``) and the application is six batched matrix products (no packing, no loop over
layers): about three times faster than the layer loop at d = 32, N = 8, where each product is
small. The stacks take ``O(N d^2)`` memory.
"""

from __future__ import annotations

import numpy as np

from ..linalg import herm


def gram_stacks(W):
    """``(P, Q, Wint, Wint^*)``: the stacks of ``P_i``, ``Q_i`` (i = 1..N-1) and of the interior
    layers ``W_2..W_{N-1}`` with their adjoints, or None when the hidden widths differ (or N = 1)."""
    H = len(W) - 1
    if H == 0 or len({w.shape[0] for w in W[:H]}) != 1:
        return None
    P = np.stack([W[i] @ herm(W[i]) for i in range(H)])
    Q = np.stack([herm(W[i + 1]) @ W[i + 1] for i in range(H)])
    if H == 1:
        return P, Q, None, None
    Wint = np.stack(W[1:H])
    return P, Q, Wint, np.conj(np.swapaxes(Wint, 1, 2))


def apply_stacked(stacks, v: np.ndarray) -> np.ndarray:
    """The Gram operator on a packed vector v, with the stacks of :func:`gram_stacks`."""
    P, Q, Wint, WintH = stacks
    H, d = P.shape[0], P.shape[1]
    X = v.reshape(H, d, d)
    out = X @ P
    out += Q @ X
    if H > 1:
        out[1:] -= Wint @ X[:-1] @ WintH
        out[:-1] -= WintH @ X[1:] @ Wint
    return out.reshape(-1)
