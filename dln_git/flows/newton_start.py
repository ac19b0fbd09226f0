"""Starts of geodesic Newton balancing (docs/math sections 2-3): pre-balancing, sweeps, merged layers.

* :func:`scalar_prebalance`: the exact minimiser of R over the centre ``g_i = c_i I`` of G;
* :func:`geometric_mean_sweep`: a Gauss–Seidel sweep of exact pairwise balancing by matrix
  geometric means (the N = 2 oracle on each pair ``(W_i, W_{i+1})``);
* :func:`merged_gauge`: a coarse-to-fine gauge element, by balancing the network of merged
  consecutive pairs of layers (multigrid in depth). The sweeps only reach the imbalance of short
  wavelength in depth; this start also removes the long-wavelength part, which is what makes
  Newton's iteration counts grow with N after the sweeps (N = 3 -> 32, Gaussian layers, d = 32:
  3 -> 7 Newton and 4 -> 40 PCG iterations).

Why merging is exact [derived]. Merge ``V_j = W_{2j} W_{2j-1}``: a network of depth N/2 on the
even hidden layers of W, in the orbit of W's action restricted to them (``g_{2j-1}`` cancels in
the products). A balanced W (``W_i W_i^* = W_{i+1}^* W_{i+1}``) gives a balanced V:
``V_j V_j^* = (W_{2j} W_{2j}^*)^2`` (balance at 2j - 1) and ``V_{j+1}^* V_{j+1} =
(W_{2j+1}^* W_{2j+1})^2`` (balance at 2j + 1), equal by balance at 2j. The Kempf–Ness point of
a closed orbit is unique up to unitaries (docs/math section 3), so balancing V gives the even
components ``g_{2j}`` of a Kempf–Ness gauge of W up to a unitary ``k_{2j}``; applied to W, the
rest of the way is a gauge on the odd hidden layers alone, where R splits into the independent
pairs ``(W_{2j-1}, W_{2j})``, each balanced exactly by the pairwise oracle. So the recursion
(merge, balance the merged network, apply its gauge on the even layers, balance the odd ones)
is exact in exact arithmetic, and it only applies gauge elements to W (the orbit is kept to
rounding, unlike a factorisation of the merged products).

Why it stops. The merged layers of level l are products of ``2^l`` layers, whose condition
numbers grow exponentially with ``2^l`` (Gaussian layers, d = 32: about tenfold per layer in
the product, ``1e35`` for X at N = 32); far beyond ``1e8`` the merged network no longer carries
its small singular directions in float64, and its balancing tells little about them. So a level
is merged only if every merged layer has condition number at most :data:`MAX_MERGED_COND`, and
the coarsest network (odd depth, too ill-conditioned to merge, or a pair too ill-conditioned for
:func:`pair_gauge`) is balanced by Newton with the gauge tracked. For Gaussian layers at d = 32
that is depth about N/4 to N/8, balanced in 3-6 Newton iterations, after which W needs 0 or 1:
the start divides the time by 2.5-4.5 at N = 4..32 (``benchmarks/bench_newton_depth.py``; the
fitted exponent over N = 2..32 drops from 1.6 to 1.3 because small depths gain most), but the
Newton iteration on the coarsest network keeps its own growth in N, so asymptotically the
exponent is not lowered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.gauge import _act_pairs
from ..core.linalg import herm
from ..core.moment_map import _regularizer
from ..core.scaling import safe_norm

__all__ = ["MAX_MERGED_COND", "compose_gauge", "geometric_mean_sweep", "merged_gauge", "pair_gauge", "scalar_gauge",
           "scalar_prebalance", "tracked_sweep"]

#: Largest condition number of a merged layer (Gaussian layers, d = 32, N = 32: merging up to
#: 1e6 leaves a coarse network of depth 16, 30 ms; up to 1e9, depth 8, 23 ms; up to 1e12, depth 4,
#: whose balancing no longer fixes the small directions: 5 fine Newton iterations, 70 ms).
MAX_MERGED_COND = 1e8


def scalar_prebalance(W) -> tuple[np.ndarray, ...]:
    """``W_i <- (c_i / c_{i-1}) W_i`` with ``||W_i||_F`` all equal to ``(prod_i ||W_i||_F)^{1/N}``.

    The minimiser of R over scalar gauge elements ``g_i = c_i I``; X is unchanged (the factors
    telescope). Layers with ``W_i = 0`` leave W unchanged (copied). Norms are taken without
    overflow or underflow (:func:`dln_git.core.scaling.safe_norm`), so any representable W works.
    """
    norms = np.array([safe_norm(w) for w in W])
    if np.any(norms == 0) or len(W) == 1:
        return tuple(np.array(w) for w in W)
    log_target = np.mean(np.log(norms))
    return tuple(w * np.exp(log_target - np.log(n)) for w, n in zip(W, norms, strict=True))


def _pair_balance(A: np.ndarray, B: np.ndarray, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """The N = 2 geometric-mean oracle on ``(A, B)`` from a Cholesky factor and one eigendecomposition.

    With ``P = A A^* = L L^*`` (Cholesky) and ``L^* Q L = (B L)^* (B L) = V diag(gamma) V^*``
    (``Q = B^* B``), ``g = G^{1/2} L^{-1}`` with ``G = (L^* Q L)^{1/2}`` has ``g^* g = H``,
    ``H = L^{-*} G L^{-1}`` the geometric mean (``H P H = Q``), so ``(g A, B g^{-1})`` is balanced:
    ``g A = V gamma^{1/4} V^* L^{-1} A`` and ``B g^{-1} = B L V gamma^{-1/4} V^*``. It differs from
    the oracle's ``g = H^{1/2}`` by a unitary factor (same R, same end-to-end map), and costs one
    eigendecomposition instead of three. ``L^{-1} A`` has orthonormal rows, so the (backward
    stable) solve keeps ``B A`` to rounding whatever ``cond(P)``.

    Raises
    ------
    numpy.linalg.LinAlgError
        If P is not numerically positive definite.
    ValueError
        If a squared pivot of L is below ``rtol`` times the largest (an upper bound of
        ``lambda_min(P)``), or ``gamma_min <= rtol^2 gamma_max`` (the spectrum of ``P Q``): as in
        :func:`dln_git.flows.oracles.geometric_mean_balance`, P or Q is (nearly) singular.
    """
    L = np.linalg.cholesky(A @ herm(A))
    pivots = np.abs(np.diagonal(L))
    BL = B @ L
    gamma, V = np.linalg.eigh(herm(BL) @ BL)
    if not (pivots.min() ** 2 > rtol * pivots.max() ** 2 and gamma[0] > rtol**2 * gamma[-1]):
        raise ValueError("the pair is too ill-conditioned for the geometric-mean oracle")
    q = gamma**0.25
    Y = np.linalg.solve(L, A)  # numpy, not scipy: two BLAS thread pools contend (see lie_group.expm)
    return V @ (q[:, None] * (herm(V) @ Y)), ((BL @ V) / q) @ herm(V)


def geometric_mean_sweep(W, max_cond: float = 1e8) -> tuple[tuple[np.ndarray, ...], int]:
    """One Gauss–Seidel sweep of exact layer-wise balancing; returns the weights and layers moved.

    For hidden layer i (in order), with ``A = W_i`` of rank r and ``B = W_{i+1}``: where
    ``range(A) ⊕ ker(B)`` is the whole hidden space (always for invertible layers; on closed
    excess-width orbits too), the gauge ``T^{-1}``, ``T = [U_r, K]`` (U_r an orthonormal basis of
    range A, K of ker B) turns the pair into ``([C; 0], [D, 0])`` with ``C = U_r^* A``,
    ``D = B U_r``, and the N = 2 geometric-mean oracle of docs/math section 3 (:func:`_pair_balance`)
    balances ``(C, D)`` exactly: a minimiser of R over ``g_i`` with the other layers fixed. X is
    unchanged; for N = 2 on a closed orbit the sweep is the exact balancing. Pairs where this does
    not apply (or T, ``C C^*`` or ``D^* D`` is worse conditioned than ``max_cond``) are skipped.
    """
    W = list(W)
    moved = 0
    for i in range(len(W) - 1):
        A, B = W[i], W[i + 1]
        d = A.shape[0]
        if A.shape[1] == d == B.shape[0]:  # square layers: the pair is usually invertible
            try:
                pair = _pair_balance(A, B)
            except (ValueError, np.linalg.LinAlgError):
                pair = None
            if pair is not None and np.isfinite(_regularizer(pair)) and _regularizer(pair) <= _regularizer((A, B)):
                W[i], W[i + 1] = pair
                moved += 1
                continue
        U, s, _ = np.linalg.svd(A, full_matrices=False)
        r = int(np.count_nonzero(s > 1e-10 * s[0])) if s.size and s[0] > 0 else 0
        _, t, Vh = np.linalg.svd(B)
        rank_b = int(np.count_nonzero(t > 1e-10 * t[0])) if t.size and t[0] > 0 else 0
        K = herm(Vh[rank_b:])
        if r == 0 or r + K.shape[1] != d:
            continue
        Ur = U[:, :r]
        if K.shape[1] and np.linalg.cond(np.hstack([Ur, K])) > max_cond:
            continue
        C, D = herm(Ur) @ A, B @ Ur
        if np.linalg.cond(C @ herm(C)) > max_cond**2 or np.linalg.cond(herm(D) @ D) > max_cond**2:
            continue
        try:
            C, D = _pair_balance(C, D)
        except (ValueError, np.linalg.LinAlgError):
            continue
        newA = np.vstack([C, np.zeros((d - r, A.shape[1]), dtype=C.dtype)])
        newB = np.hstack([D, np.zeros((B.shape[0], d - r), dtype=D.dtype)])
        if np.isfinite(_regularizer((newA, newB))) and _regularizer((newA, newB)) <= _regularizer((A, B)):
            W[i], W[i + 1] = newA, newB
            moved += 1
    return tuple(W), moved


def scalar_gauge(W) -> list[tuple[np.ndarray, np.ndarray]]:
    """The gauge ``(c_i I, c_i^{-1} I)`` of :func:`scalar_prebalance` on each hidden layer.

    ``c_i = prod_{l <= i} (m / ||W_l||_F)`` with m the geometric mean of the norms (so
    ``c_N = 1``); identities if a layer is zero.
    """
    norms = np.array([safe_norm(w) for w in W])
    eye = [np.eye(w.shape[0], dtype=np.result_type(*W)) for w in W[:-1]]
    if np.any(norms == 0):
        return [(e, e.copy()) for e in eye]
    c = np.exp(np.cumsum(np.mean(np.log(norms)) - np.log(norms)))
    return [(ci * e, e / ci) for ci, e in zip(c, eye, strict=False)]


def compose_gauge(gauge: list, pairs, layers=None) -> None:
    """``gauge[i] <- (h_i g_i, g_i^{-1} h_i^{-1})`` in place for ``pairs[i] = (h_i, h_i^{-1})`` (on ``layers``)."""
    for i, (h, h_inv) in zip(range(len(gauge)) if layers is None else layers, pairs, strict=False):
        g, g_inv = gauge[i]
        gauge[i] = (h @ g, g_inv @ h_inv)


def pair_gauge(A: np.ndarray, B: np.ndarray, max_cond: float = 1e12):
    """``(g, g^{-1})`` with ``(g A, B g^{-1})`` balanced, for square invertible A, B; None if refused.

    The pairwise geometric-mean oracle (docs/math section 3) without Gram matrices: with
    ``A^* = Q L^*`` (QR, so ``A A^* = L L^*``) and ``B L = U diag(sigma) V^*`` (SVD),
    ``g = M L^{-1}`` with ``M = V diag(sigma^{1/2}) V^* = (L^* B^* B L)^{1/4}``, so that
    ``g A = M Q^*`` and ``B g^{-1} = U diag(sigma^{1/2}) V^*`` share the Gram matrix
    ``V diag(sigma) V^*``. Refused (None) if ``cond(L) = cond(A)`` or ``cond(B L) = cond(B A)``
    exceeds ``max_cond`` (estimated from the diagonal of L and from sigma), or on non-finite values.
    """
    _, R = np.linalg.qr(herm(A))
    L = herm(R)
    pivots = np.abs(np.diagonal(L))
    if not (np.all(np.isfinite(pivots)) and pivots.min() * max_cond > pivots.max()):
        return None
    _, sigma, Vh = np.linalg.svd(B @ L)
    if not (np.all(np.isfinite(sigma)) and sigma[-1] * max_cond > sigma[0]):
        return None
    q = np.sqrt(sigma)
    M = herm(Vh) @ (q[:, None] * Vh)
    g = herm(np.linalg.solve(R, herm(M)))  # M L^{-1}: L^* = R, numpy (see _pair_balance)
    return g, L @ (herm(Vh) @ (Vh / q[:, None]))


def tracked_sweep(W, gauge: list) -> tuple[np.ndarray, ...]:
    """One Gauss–Seidel sweep of :func:`pair_gauge` over the hidden layers, composed into ``gauge``.

    Square layers of one width; pairs that the oracle refuses, or where R would not decrease,
    are skipped (the same rule as :func:`geometric_mean_sweep`).
    """
    W = list(W)
    for i in range(len(W) - 1):
        pair = pair_gauge(W[i], W[i + 1])
        if pair is None:
            continue
        new = (pair[0] @ W[i], W[i + 1] @ pair[1])
        if np.isfinite(_regularizer(new)) and _regularizer(new) <= _regularizer(W[i:i + 2]):
            W[i], W[i + 1] = new
            compose_gauge(gauge, [pair], [i])
    return tuple(W)


def _mergeable(W, max_cond: float) -> bool:
    """Even depth, square layers of one width, and every ``W_{2j} W_{2j-1}`` of condition number <= max_cond."""
    if len(W) % 2 or len({w.shape for w in W}) != 1 or W[0].shape[0] != W[0].shape[1]:
        return False
    for j in range(0, len(W), 2):
        s = np.linalg.svd(W[j + 1] @ W[j], compute_uv=False)
        if not (np.all(np.isfinite(s)) and s[-1] * max_cond > s[0]):
            return False
    return True


def merged_gauge(W, coarse_solve: Callable, max_cond: float = MAX_MERGED_COND, top: bool = True):
    """A gauge ``[(g_i, g_i^{-1})]`` on the hidden layers of W by merged pairs of layers, or None.

    See the module docstring: if W can be merged (:func:`_mergeable`), the merged network is
    balanced recursively (depth 2: :func:`pair_gauge`; depth 1: nothing), its gauge is put on the
    even hidden layers of W and :func:`pair_gauge` on the odd ones. Networks that cannot be
    merged (or pairs too ill-conditioned for :func:`pair_gauge`) are balanced by
    ``coarse_solve(V)``, which returns the gauge it applied (or None); at the top level (W itself
    cannot be merged) the result is None.
    """
    N = len(W)
    if N == 1:
        return []
    if N == 2:
        pair = pair_gauge(W[0], W[1])
        if pair is not None:
            return [pair]
        return None if top else coarse_solve(tuple(W))
    if not _mergeable(W, max_cond):
        return None if top else coarse_solve(tuple(W))
    coarse = merged_gauge([W[j + 1] @ W[j] for j in range(0, N, 2)], coarse_solve, max_cond, top=False)
    if coarse is None:
        return None
    eye = np.eye(W[0].shape[0], dtype=np.result_type(*W))
    gauge = [(eye, eye)] * (N - 1)
    gauge[1::2] = coarse
    V = _act_pairs(gauge, W)
    for j in range(0, N, 2):
        pair = pair_gauge(V[j], V[j + 1])
        if pair is None:
            return None
        gauge[j] = pair
    return gauge
