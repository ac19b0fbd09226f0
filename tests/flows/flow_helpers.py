"""Independent helpers for the acceptance tests of ``dln_git.flows`` (docs/math sections 1-3).

Everything here is plain numpy written from the defining formulas: the end-to-end product, the
moment map ``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}``, the regularizer, its minimum on the fiber
from the SVD of X, Haar frames, the SVD chart and the gauge action ``g.W``. Nothing is imported
from ``dln_git`` so that the flows are always compared with a computation they do not share.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

# ---------------------------------------------------------------------------------------------
# Closed-form quantities
# ---------------------------------------------------------------------------------------------


def product(W):
    """X = W_N ... W_1."""
    return reduce(lambda acc, w: w @ acc, W[1:], W[0])


def moment(W):
    """mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}, i = 1..N-1."""
    return [W[i] @ W[i].conj().T - W[i + 1].conj().T @ W[i + 1] for i in range(len(W) - 1)]


def tnorm(mats) -> float:
    """Frobenius norm of a tuple of matrices."""
    return float(np.sqrt(sum(np.linalg.norm(m) ** 2 for m in mats)))


def mu_norm(W) -> float:
    return tnorm(moment(W))


def regularizer(W) -> float:
    """R(W) = 1/2 sum ||W_i||_F^2."""
    return 0.5 * sum(float(np.linalg.norm(w)) ** 2 for w in W)


def min_regularizer_svd(X, N: int, rtol: float = 1e-12) -> float:
    """(N/2) sum_k s_k^{2/N} over the nonzero singular values of X (docs/math section 2)."""
    s = np.linalg.svd(X, compute_uv=False)
    s = s[s > rtol * s[0]] if s.size and s[0] > 0 else s[:0]
    return float(0.5 * N * np.sum(s ** (2.0 / N)))


def rel_diff(U, V) -> float:
    """||U - V|| / ||V|| for tuples of matrices."""
    return tnorm([a - b for a, b in zip(U, V, strict=True)]) / tnorm(V)


def x_drift(W, X0) -> float:
    """||phi(W) - X0|| / ||X0||."""
    return float(np.linalg.norm(product(W) - X0) / np.linalg.norm(X0))


# ---------------------------------------------------------------------------------------------
# Constructions
# ---------------------------------------------------------------------------------------------


def haar(n: int, k: int, rng, cplx: bool = False) -> np.ndarray:
    """n x k Haar frame (QR of a Gaussian with the phases of R's diagonal moved into Q)."""
    G = rng.standard_normal((n, k))
    if cplx:
        G = G + 1j * rng.standard_normal((n, k))
    Q, Rm = np.linalg.qr(G)
    d = np.diag(Rm)
    return Q * (d / np.abs(d))


def gaussian_weights(widths, rng, cplx: bool = False):
    """W_i with iid N(0, 1/d_{i-1}) entries (complex: real and imaginary parts of variance 1/2)."""
    out = []
    for i in range(1, len(widths)):
        shape = (widths[i], widths[i - 1])
        M = rng.standard_normal(shape)
        if cplx:
            M = (M + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
        out.append(M / np.sqrt(widths[i - 1]))
    return tuple(out)


def svd_chart(U, s, V, widths, rng, cplx: bool = False):
    """Balanced W over X = U diag(s) V^*: W_1 = Q_1 S^{1/N} V^*, ..., W_N = U S^{1/N} Q_{N-1}^*."""
    N = len(widths) - 1
    r = len(s)
    Q = [V] + [haar(widths[i], r, rng, cplx) for i in range(1, N)] + [U]
    root = np.asarray(s, dtype=float) ** (1.0 / N)
    return tuple((Q[i] * root) @ Q[i - 1].conj().T for i in range(1, N + 1))


def gauge_act(W, g):
    """(g.W)_i = g_i W_i g_{i-1}^{-1} (g_0 = g_N = I), the inverse by a linear solve."""
    N = len(W)
    out = []
    for i in range(N):
        w = W[i]
        if i < N - 1:
            w = g[i] @ w
        if i > 0:
            w = np.linalg.solve(g[i - 1].T, w.T).T  # w g_{i-1}^{-1}
        out.append(w)
    return tuple(out)


def random_gauge(widths, rng, cond: float = 3.0, cplx: bool = False):
    """g_i = U_i diag(e^{u_i}) V_i^* with u_i uniform so that cond(g_i) <= cond."""
    out = []
    for n in widths[1:-1]:
        sv = np.exp(rng.uniform(-0.5, 0.5, n) * np.log(cond))
        out.append((haar(n, n, rng, cplx) * sv) @ haar(n, n, rng, cplx).conj().T)
    return tuple(out)


def conditioned_instance(widths, cond: float, seed: int, gauge_cond: float = 3.0, cplx: bool = False):
    """``(W, X, s)``: X = U diag(logspace(0, -log10 cond)) V^* with Haar U, V, and W = g.W_bal.

    W_bal is the SVD chart of X (rank min(d_0, d_N); every hidden width must be at least that),
    g a random gauge element with cond(g_i) <= gauge_cond. X is returned as assembled from its
    factors, not as the product of the weights.
    """
    rng = np.random.default_rng(seed)
    r = min(widths[0], widths[-1])
    s = np.logspace(0.0, -np.log10(cond), r)
    U = haar(widths[-1], r, rng, cplx)
    V = haar(widths[0], r, rng, cplx)
    X = (U * s) @ V.conj().T
    W = gauge_act(svd_chart(U, s, V, widths, rng, cplx), random_gauge(widths, rng, gauge_cond, cplx))
    return W, X, s


def spectrum_instance(widths, s, seed: int, gauge_cond: float = 3.0):
    """W = g.W_bal over X = U diag(s) V^* (Haar U, V), for a prescribed spectrum s."""
    rng = np.random.default_rng(seed)
    s = np.asarray(s, dtype=float)
    U = haar(widths[-1], len(s), rng)
    V = haar(widths[0], len(s), rng)
    return gauge_act(svd_chart(U, s, V, widths, rng), random_gauge(widths, rng, gauge_cond))


def with_end_to_end_cond(W, cond: float, rng):
    """Random-start weights whose X has condition number ``cond``: W_1 <- W_1 M.

    With X = U S V^* (full rank r = d_0 <= ...), ``M = V S^{-1} T O`` (T = logspace spectrum,
    O Haar orthogonal) gives X M = U T O, of singular values T. The hidden layers are untouched.
    """
    X = product(W)
    _, s, Vh = np.linalg.svd(X)
    r = len(s)
    if r != W[0].shape[1]:
        raise ValueError("needs d_0 <= d_N so that X has full column rank")
    t = np.logspace(0.0, -np.log10(cond), r)
    M = Vh.conj().T @ np.diag(t / s) @ haar(r, r, rng)
    return (W[0] @ M, *W[1:])


def rank_one_first_layer(widths, seed: int):
    """Equal-width weights with W_1 of rank 1, so that X is rank-deficient."""
    rng = np.random.default_rng(seed)
    W = gaussian_weights(widths, rng)
    u = rng.standard_normal((widths[1], 1))
    v = rng.standard_normal((1, widths[0]))
    return (u @ v / np.sqrt(widths[0]), *W[1:])


#: Named instances covering every regime of docs/math section 2 (all small).
def regime_instances():
    cases = {}
    for k, widths in enumerate([(3, 3, 3), (2, 2, 2, 2, 2)]):
        cases[f"closed{widths}"] = gaussian_weights(widths, np.random.default_rng(100 + k))
    for k, widths in enumerate([(2, 4, 2), (3, 1, 3)]):
        cases[f"excess-closed{widths}"] = gaussian_weights(widths, np.random.default_rng(110 + k))
    for k, widths in enumerate([(2, 4, 4, 2), (1, 2, 2), (2, 3, 4, 3)]):
        cases[f"non-closed{widths}"] = gaussian_weights(widths, np.random.default_rng(120 + k))
    for k, widths in enumerate([(3, 2, 1), (1, 2, 3, 3), (4, 3, 2, 1)]):
        cases[f"funnel{widths}"] = gaussian_weights(widths, np.random.default_rng(130 + k))
    cases["rank-deficient(3,3,3)"] = rank_one_first_layer((3, 3, 3), 140)
    cases["ill-cond1e8(3,3,3)"] = conditioned_instance((3, 3, 3), 1e8, 150)[0]
    cases["ill-cond1e6(2,3,3,2)"] = conditioned_instance((2, 3, 3, 2), 1e6, 151)[0]
    cases["complex(2,3,2)"] = gaussian_weights((2, 3, 2), np.random.default_rng(160), cplx=True)
    cases["complex-funnel(1,2,3,3)"] = gaussian_weights((1, 2, 3, 3), np.random.default_rng(161), cplx=True)
    cases["depth1(3,2)"] = gaussian_weights((3, 2), np.random.default_rng(170))
    return cases


def mu_identity_error(W0, times, trajectory, factor, floor: float = 0.0) -> float:
    """max_k ||mu(W_k) - factor(t_k) mu(W0)|| / max(||mu(W0)||, floor R(W0)).

    The integrators control the local error relative to ||W||, so near a balanced start (||mu0|| much
    smaller than R) the law holds to that accuracy in absolute terms, not relative to ||mu0||;
    ``floor`` sets where the normalisation switches from ||mu0|| to R.
    """
    mu0 = moment(W0)
    scale = max(tnorm(mu0), floor * regularizer(W0))
    if scale == 0.0:
        return max((mu_norm(Wt) for Wt in trajectory), default=0.0)
    return max(
        tnorm([m - factor(t) * m0 for m, m0 in zip(moment(Wt), mu0, strict=True)]) / scale
        for t, Wt in zip(times, trajectory, strict=True)
    )


def loglog_slope(hs, errs) -> float:
    """Least-squares slope of log(err) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])
