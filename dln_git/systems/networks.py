"""The deep-linear-network reading of balanced realizations (docs/math section 5).

N = 2: ``B := W_1``, ``C := W_2``, ``A := 0`` in discrete time (transfer function ``z^{-1} X``, or
``A = -I/2`` in continuous time, same Gramians). The Gramians are ``P = W_1 W_1^*`` and
``Q = W_2^* W_2`` (``A P A^* - P + B B^* = 0`` with A = 0), so ``mu = P - Q``; the Hankel singular
values ``sqrt(eig(P Q))`` are the singular values of X; Moore's T gives ``mu(T W_1, W_2 T^{-1}) = 0``
with ``P = Q = diag(s(X))``, and balanced truncation to order k is the truncated SVD of X.

Deeper networks are chains of N = 2 problems: ``mu_i = 0`` balances hidden space i between its two
neighbouring layers (``W_i W_i^* = W_{i+1}^* W_{i+1}``). The *naive* Gramians of hidden space i,
those of the N = 2 realization ``B = W_i..W_1``, ``C = W_N..W_{i+1}``,

    ``P_i = (W_i..W_1)(W_i..W_1)^*``,  ``Q_i = (W_N..W_{i+1})^*(W_N..W_{i+1})``,

are **not** equal at mu = 0 for N > 2: at a balanced point W_i = Q_i S^{1/N} Q_{i-1}^* (SVD chart) they
are ``Q_i S^{2i/N} Q_i^*`` and ``Q_i S^{2(N-i)/N} Q_i^*``, equal only where ``i = N/2`` or the
singular values of X are all equal (:func:`naive_partial_gramians`, tested). The pair that *is*
equal there is the neighbouring-layer pair ``(W_i W_i^*, W_{i+1}^* W_{i+1})``; :func:`reduce_network`
diagonalises it in every hidden space and truncates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.end_to_end import end_to_end
from ..core.options import Rule, check_options
from ..core.validation import as_weights
from .state_space import StateSpace

__all__ = ["NetworkReduction", "naive_partial_gramians", "realization_from_weights", "reduce_network"]


def realization_from_weights(W, *, dt: float | None = 1.0) -> StateSpace:
    """The realization ``(A, B, C, D) = (0, W_1, W_2, 0)`` (discrete, ``dt``) of a depth-2 network.

    With ``dt=None`` the continuous-time realization ``A = -I/2`` (same Gramians:
    ``-P/2 - P/2 + W_1 W_1^* = 0``).
    """
    W = as_weights(W)
    if len(W) != 2:
        raise ValueError(
            f"realization_from_weights needs depth N = 2 (B = W_1, C = W_2), got N = {len(W)}; a deeper network is a "
            "chain of N = 2 problems: use reduce_network, or naive_partial_gramians to see why the partial products "
            "are not a balanced pair"
        )
    d1 = W[0].shape[0]
    A = np.zeros((d1, d1)) if dt is not None else -0.5 * np.eye(d1)
    return StateSpace(A, W[0], W[1], np.zeros((W[1].shape[0], W[0].shape[1])), dt)


def naive_partial_gramians(W, i: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P_i, Q_i) = ((W_i..W_1)(W_i..W_1)^*, (W_N..W_{i+1})^*(W_N..W_{i+1}))`` for hidden space i (1-based).

    The Gramians of the N = 2 realization obtained by grouping layers ``1..i`` and ``i+1..N``.
    """
    W = as_weights(W)
    N = len(W)
    (i,) = check_options(i=(i, Rule.count(1, "a hidden layer index, 1 <= i <= N - 1")))
    if i > N - 1:
        raise ValueError(f"i = {i} is not a hidden layer of a depth-{N} network (1 <= i <= {N - 1})")
    low, high = end_to_end(W[:i]), end_to_end(W[i:])
    return low @ low.conj().T, high.conj().T @ high


@dataclass(frozen=True)
class NetworkReduction:
    """A rank-``rank`` network computed by :func:`reduce_network`.

    Attributes
    ----------
    weights : tuple of ndarray
        The reduced weights; hidden widths ``min(d_i, rank)``.
    balanced_weights : tuple of ndarray
        The balanced, rotated full network it was cut from (hidden Gramian pairs diagonal).
    error_2, error_fro : float
        ``||X - X_r||`` in operator and Frobenius norm.
    eckart_young_2, eckart_young_fro : float
        The optimum over rank-``rank`` matrices: ``s_{rank+1}`` and ``sqrt(sum_{j>rank} s_j^2)``.
    bound : float
        The balanced-truncation bound ``2 sum_{j>rank} s_j`` of the N = 2 reading.
    mu_norm : float
        ``||mu||`` of the balanced network.
    converged : bool
        Balancing converged, the output is finite and ``error_2 - eckart_young_2 <= rtol s_1``.
    message : str
    """

    weights: tuple
    balanced_weights: tuple
    error_2: float
    error_fro: float
    eckart_young_2: float
    eckart_young_fro: float
    bound: float
    mu_norm: float
    converged: bool
    message: str


def reduce_network(W, rank: int, *, tol: float = 1e-12, rtol: float = 1e-8) -> NetworkReduction:
    """Balanced truncation of a deep linear network to ``rank`` hidden coordinates.

    1. Balance W on its fiber (:func:`dln_git.flows.balance`, Newton, ``||mu|| <= tol R``): every
       hidden space then carries one Hermitian matrix ``M_i = W_i W_i^* = W_{i+1}^* W_{i+1}``.
    2. Rotate hidden space i by the eigenvectors of ``M_i`` (descending eigenvalues):
       ``W_i <- U_i^* W_i U_{i-1}`` (U_0 = U_N = I), a K-move keeping X and mu = 0; both Gramians of
       the pair become diagonal.
    3. Keep the first ``rank`` coordinates of each hidden space.

    At a balanced point of a closed orbit the rotated weights are diagonal (the SVD chart up to
    signs), so the reduced X is the truncated SVD of X: the error equals the Eckart–Young tail
    ``s_{rank+1}``. ``converged=False`` reports where it does not (balancing stopped early, or a
    hidden layer narrower than ``rank`` forced a different cut).
    """
    from ..flows import balance

    W = as_weights(W)
    N = len(W)
    (rank, tol, rtol) = check_options(rank=(rank, Rule.count(1, "the number of hidden coordinates kept")),
                                      tol=tol, rtol=rtol)
    if N < 2:
        raise ValueError("reduce_network needs a hidden layer (depth N >= 2)")
    X = end_to_end(W)
    s = np.linalg.svd(X, compute_uv=False)
    bal = balance(W, tol=tol)
    Wb = [w.copy() for w in bal.weights]
    Us = []
    for i in range(N - 1):
        M = (Wb[i] @ Wb[i].conj().T + Wb[i + 1].conj().T @ Wb[i + 1]) / 2
        _, U = np.linalg.eigh(M)
        Us.append(U[:, ::-1])
    for i in range(N):
        if i < N - 1:
            Wb[i] = Us[i].conj().T @ Wb[i]
        if i > 0:
            Wb[i] = Wb[i] @ Us[i - 1]
    Wr = []
    for i in range(N):
        w = Wb[i]
        if i < N - 1:
            w = w[:rank]
        if i > 0:
            w = w[:, :rank]
        Wr.append(w.copy())
    Xr = end_to_end(Wr)
    err2 = float(np.linalg.norm(X - Xr, 2))
    errF = float(np.linalg.norm(X - Xr))
    ey2 = float(s[rank]) if rank < s.size else 0.0
    eyF = float(np.sqrt(np.sum(s[rank:] ** 2)))
    bound = float(2 * np.sum(s[rank:]))
    from ..core.moment_map import moment_norm

    mu = moment_norm(Wb)
    finite = all(np.isfinite(w).all() for w in Wr)
    s1 = float(s[0]) if s.size else 0.0
    optimal = err2 - ey2 <= rtol * s1
    parts = [f"balanced ({bal.message}); ||X - X_r||_2 = {err2:.3e}, Eckart-Young s_(k+1) = {ey2:.3e}"]
    if not optimal:
        parts.append(f"the cut is not optimal: excess {(err2 - ey2) / max(s1, 1e-300):.1e} s_1 above rtol")
    if not finite:
        parts.append("non-finite weights")
    converged = bool(bal.converged and finite and optimal)
    return NetworkReduction(tuple(Wr), tuple(Wb), err2, errF, ey2, eyF, bound, float(mu), converged, "; ".join(parts))
