"""Geodesic Newton balancing on ``G/K`` (MATH.md section 3).

Along ``exp(t s).W`` with s Hermitian, ``d mu = 2 Herm(A_W^* A_W s)`` [derived], so the Hessian of
the geodesically convex function ``g -> R(g.W)`` at the identity is ``2 Herm o A_W^* A_W`` on
Hermitian directions, and the geodesic Newton step is ``W <- exp(-s/2).W`` with
``Herm(A_W^* A_W s) = mu(W)`` solved over Hermitian s (minimum-norm where singular).

Globalisation:

* a scalar pre-balancing: the exact minimiser of R over the centre ``g_i = c_i I`` of G, which
  makes all ``||W_i||_F`` equal to their geometric mean (closed form, AM–GM);
* one Gauss–Seidel sweep of exact layer-wise balancing by matrix geometric means (the N = 2
  oracle on each pair ``(W_i, W_{i+1})``), where those Gram matrices are invertible;
* an exact line search along each Newton geodesic: in the eigenbases ``s_i = E_i diag(lam_i) E_i^*``,
  ``R(exp(-a s/2).W) = 1/2 sum_i sum_jk |C_i[j,k]|^2 exp(-a (lam_i[j] - lam_{i-1}[k]))`` with
  ``C_i = E_i^* W_i E_{i-1}``, a sum of exponentials whose logarithm is convex in a; its minimiser
  is found by safeguarded Newton on the log-sum-exp, in O(sum_i d_i d_{i-1}) per evaluation;
* inexact Newton solves with forcing term ``min(1/4, ||mu|| / 2R)`` (quadratic convergence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.gram import GramOperator
from ..core.linalg import herm, norm
from ..core.moment_map import _moment_map, _regularizer
from ..core.subspaces import stabiliser_subspace
from .lie_group import hermitian_eig

__all__ = ["NewtonRun", "geometric_mean_sweep", "newton_balance", "scalar_prebalance"]

#: ``||mu|| / 2R`` below which R cannot decrease measurably in floating point.
ROUNDING_FLOOR = 1e-13


@dataclass
class NewtonRun:
    weights: tuple
    converged: bool
    iterations: int
    mu_history: list
    step_lengths: list
    inner_iterations: list
    failures: list
    swept_layers: int = 0


def scalar_prebalance(W) -> tuple[np.ndarray, ...]:
    """``W_i <- (c_i / c_{i-1}) W_i`` with ``||W_i||_F`` all equal to ``(prod_i ||W_i||_F)^{1/N}``.

    The minimiser of R over scalar gauge elements ``g_i = c_i I``; X is unchanged (the factors
    telescope). Layers with ``W_i = 0`` leave W unchanged.
    """
    norms = np.array([float(np.linalg.norm(w)) for w in W])
    if np.any(norms == 0) or len(W) == 1:
        return tuple(W)
    target = np.exp(np.mean(np.log(norms)))
    return tuple(w * (target / n) for w, n in zip(W, norms, strict=True))


def geometric_mean_sweep(W, max_cond: float = 1e8) -> tuple[tuple[np.ndarray, ...], int]:
    """One Gauss–Seidel sweep of exact layer-wise balancing; returns the weights and layers moved.

    For hidden layer i (in order), with ``A = W_i`` of rank r and ``B = W_{i+1}``: where
    ``range(A) ⊕ ker(B)`` is the whole hidden space (always for invertible layers; on closed
    excess-width orbits too), the gauge ``T^{-1}``, ``T = [U_r, K]`` (U_r an orthonormal basis of
    range A, K of ker B) turns the pair into ``([C; 0], [D, 0])`` with ``C = U_r^* A``,
    ``D = B U_r``, and the N = 2 geometric-mean oracle of MATH.md section 3 balances ``(C, D)``
    exactly: the minimiser of R over ``g_i`` with the other layers fixed. X is unchanged; for N = 2
    on a closed orbit the sweep is the exact balancing. Pairs where this does not apply (or T,
    ``C C^*`` or ``D^* D`` is worse conditioned than ``max_cond``) are skipped.
    """
    from .oracles import geometric_mean_balance

    W = list(W)
    moved = 0
    for i in range(len(W) - 1):
        A, B = W[i], W[i + 1]
        d = A.shape[0]
        if A.shape[1] == d == B.shape[0]:  # square layers: the pair is usually invertible
            try:
                pair = geometric_mean_balance((A, B)).weights
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
            C, D = geometric_mean_balance((C, D)).weights
        except (ValueError, np.linalg.LinAlgError):
            continue
        newA = np.vstack([C, np.zeros((d - r, A.shape[1]), dtype=C.dtype)])
        newB = np.hstack([D, np.zeros((B.shape[0], d - r), dtype=D.dtype)])
        if np.isfinite(_regularizer((newA, newB))) and _regularizer((newA, newB)) <= _regularizer((A, B)):
            W[i], W[i + 1] = newA, newB
            moved += 1
    return tuple(W), moved


def _eigen_coordinates(W, eig) -> list[np.ndarray]:
    """``C_i = E_i^* W_i E_{i-1}`` (``E_0 = I``, ``E_N = I``) for ``s_i = E_i diag(lam_i) E_i^*``."""
    N = len(W)
    out = []
    for i in range(N):
        C = W[i]
        if i < N - 1:
            C = herm(eig[i][1]) @ C
        if i > 0:
            C = C @ eig[i - 1][1]
        out.append(C)
    return out


def _geodesic_point(C, eig, a: float) -> tuple[np.ndarray, ...]:
    """``exp(-a s/2).W`` from its eigen-coordinates: ``E_i e^{-a lam_i/2} C_i e^{a lam_{i-1}/2} E_{i-1}^*``."""
    N = len(C)
    out = []
    for i in range(N):
        M = C[i]
        if i < N - 1:
            lam, E = eig[i]
            M = E @ (np.exp(-0.5 * a * lam)[:, None] * M)
        if i > 0:
            lam, E = eig[i - 1]
            M = (M * np.exp(0.5 * a * lam)[None, :]) @ herm(E)
        out.append(M)
    return tuple(out)


def _line_search(C, eig) -> float:
    """Exact minimiser ``a >= 0`` of ``R(exp(-a s/2).W)`` (log-sum-exp convex in a), from ``C_i``."""
    N = len(C)
    w_parts, d_parts = [], []
    for i in range(N):
        lam_out = eig[i][0] if i < N - 1 else np.zeros(C[i].shape[0])
        lam_in = eig[i - 1][0] if i > 0 else np.zeros(C[i].shape[1])
        w = (np.abs(C[i]) ** 2).ravel()
        d = (lam_out[:, None] - lam_in[None, :]).ravel()
        keep = w > 0
        w_parts.append(w[keep])
        d_parts.append(d[keep])
    logw = np.log(np.concatenate(w_parts))
    delta = np.concatenate(d_parts)
    if delta.size == 0 or np.ptp(delta) == 0:
        return 1.0

    def slope_curv(a):
        z = logw - a * delta
        p = np.exp(z - z.max())
        p /= p.sum()
        m = float(p @ delta)
        return -m, float(p @ (delta - m) ** 2)

    g0, _ = slope_curv(0.0)
    if g0 >= 0:
        return 0.0
    lo, hi = 0.0, None
    a = 1.0
    for _ in range(60):
        g, c = slope_curv(a)
        if abs(g) <= 1e-14 * (abs(g0) + 1e-300):
            return a
        if g < 0:
            lo = a
        else:
            hi = a
        step = a - g / c if c > 0 else np.inf
        if hi is None:
            a = step if np.isfinite(step) and step > a else 2 * a
            if a > 1e6:
                return lo
        else:
            a = step if lo < step < hi else 0.5 * (lo + hi)
        if hi is not None and hi - lo <= 1e-14 * hi:
            break
    return a


def _hermitian_solve(gram: GramOperator, rhs, rtol: float):
    """``Herm(A^*A s) = rhs`` over Hermitian s: (iterations, s, converged, message)."""
    sol = gram.solve_hermitian(rhs, rtol=rtol)
    return sol.iterations, sol.xi, sol.converged, sol.message


def newton_balance(W, *, tol: float = 1e-12, max_iter: int = 30) -> NewtonRun:
    """Geodesic Newton iteration from W until ``||mu|| <= tol R(W)`` (see the module docstring)."""
    W = scalar_prebalance(W)
    W, swept = geometric_mean_sweep(W)
    # ker A_{g.W} = g ker A_W g^{-1}: a trivial stabiliser stays trivial along the iteration
    trivial = stabiliser_subspace(W).dim == 0 if len(W) > 1 else True
    mu = _moment_map(W)
    history = [norm(mu)]
    steps, inner, failures = [], [], []
    converged = history[-1] <= tol * _regularizer(W)
    it = 0
    while not converged and it < max_iter:
        R = _regularizer(W)
        forcing = min(0.25, history[-1] / (2 * R))
        gram = GramOperator(W, trivial_kernel=trivial)
        iters, s, ok, message = _hermitian_solve(gram, mu, max(forcing, 1e-14))
        inner.append(iters)
        if not ok:
            failures.append(f"iteration {it + 1}: {message}")
        eig = hermitian_eig(s)
        C = _eigen_coordinates(W, eig)
        a = _line_search(C, eig)
        steps.append(a)
        if a == 0.0:
            if history[-1] <= ROUNDING_FLOOR * 2 * R:
                failures.append(f"stagnated at the rounding level of mu (||mu|| / 2R = {history[-1] / (2 * R):.1e})")
            else:
                failures.append(f"iteration {it + 1}: the Newton direction is not a descent direction")
            break
        W = _geodesic_point(C, eig, a)
        mu = _moment_map(W)
        history.append(norm(mu))
        it += 1
        converged = history[-1] <= tol * _regularizer(W)
    return NewtonRun(W, converged, it, history, steps, inner, failures, swept)
