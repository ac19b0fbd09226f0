"""Geodesic Newton balancing on ``G/K`` (MATH.md section 3).

Along ``exp(t s).W`` with s Hermitian, ``d mu = 2 Herm(A_W^* A_W s)`` [derived], so the Hessian of
the geodesically convex function ``g -> R(g.W)`` at the identity is ``2 Herm o A_W^* A_W`` on
Hermitian directions, and the geodesic Newton step is ``W <- exp(-s/2).W`` with
``Herm(A_W^* A_W s) = mu(W)`` solved over Hermitian s (minimum-norm where singular).

Globalisation:

* a scalar pre-balancing: the exact minimiser of R over the centre ``g_i = c_i I`` of G, which
  makes all ``||W_i||_F`` equal to their geometric mean (closed form, AM–GM);
* two Gauss–Seidel sweeps of exact layer-wise balancing by matrix geometric means (the N = 2
  oracle on each pair ``(W_i, W_{i+1})``), where those Gram matrices are invertible (one for
  N = 2, where it is exact);
* an exact line search along each Newton geodesic: in the eigenbases ``s_i = E_i diag(lam_i) E_i^*``,
  ``R(exp(-a s/2).W) = 1/2 sum_i sum_jk |C_i[j,k]|^2 exp(-a (lam_i[j] - lam_{i-1}[k]))`` with
  ``C_i = E_i^* W_i E_{i-1}``, a sum of exponentials whose logarithm is convex in a; its minimiser
  is found by safeguarded Newton on the log-sum-exp, in O(sum_i d_i d_{i-1}) per evaluation;
* in the quadratic phase (small s), the full step ``a = 1`` by truncated Taylor series of
  ``exp(-/+ s/2)`` when it reduces ``||mu||`` fourfold (no eigendecomposition, no line search);
* inexact Newton solves with forcing term ``min(1/4, max(10 ||mu|| / 2R, tol R / 10 ||mu||))``
  (quadratic convergence, and no more accuracy than the tolerance needs), by PCG with the
  ``"balanced"`` model in QR frames (``GramOperator(frame_kind="qr")``) and without PCG's final
  true-residual check (the iteration measures ``||mu||`` itself); with equal hidden widths and
  ``ker A_W = 0`` certified from the layers, the same PCG on stacks of layers
  (:mod:`dln_git.flows.newton_system`), so that every part of an iteration costs O(N d^3).

Measured (``benchmarks/bench_flows.py`` case 2, N = 8, d = 256, cond X = 1e3): two sweeps, two
line-searched and two full steps, 8 PCG iterations, about 42-45 SVD charts of X. Versus depth
(``benchmarks/bench_newton_depth.py``, Gaussian layers, d = 32, tol 1e-10): the work per Newton
iteration grows like N^1.1, but the iteration counts grow too (Newton 3 -> 8 and PCG 4 -> 42
from N = 3 to 32; exact solves take as many Newton iterations), so the total grows like N^1.6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.gauge import _act_pairs
from ..core.linalg import herm, norm
from ..core.moment_map import _moment_map, _regularizer
from ..core.scaling import safe_norm
from .lie_group import hermitian_eig
from .newton_system import newton_direction, stabiliser_is_trivial

__all__ = ["NewtonRun", "geometric_mean_sweep", "newton_balance", "scalar_prebalance"]

#: ``||mu|| / 2R`` below which R cannot decrease measurably in floating point.
ROUNDING_FLOOR = 1e-13
#: Gauss–Seidel sweeps before the Newton iteration (N = 8, d = 256, cond X = 1e3: ``||mu|| / R``
#: 9e-2 -> 3.3e-2 -> 1.2e-2, one Newton iteration fewer than after one sweep; a third saved none).
SWEEPS = 2


@dataclass
class NewtonRun:
    weights: tuple
    converged: bool
    iterations: int
    mu_history: list
    step_lengths: list
    inner_iterations: list
    failures: list
    swept_layers: int = 0  # the most layers one geometric-mean sweep moved


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
    ``D = B U_r``, and the N = 2 geometric-mean oracle of MATH.md section 3 (:func:`_pair_balance`)
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


def _exponential_sum(C, eig) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``w`` and exponents ``delta`` with ``R(exp(-a s/2).W) = 1/2 sum w exp(-a delta)``.

    ``w = |C_i[j,k]|^2`` and ``delta = lam_i[j] - lam_{i-1}[k]`` (``lam_0 = lam_N = 0``) over all
    layers i and entries (j, k), flattened into two vectors.
    """
    N = len(C)
    n = sum(c.size for c in C)
    w, delta = np.empty(n), np.empty(n)
    start = 0
    for i, c in enumerate(C):
        stop = start + c.size
        lam_out = eig[i][0] if i < N - 1 else np.zeros(c.shape[0])
        lam_in = eig[i - 1][0] if i > 0 else np.zeros(c.shape[1])
        if np.iscomplexobj(c):
            w[start:stop] = (c.real**2 + c.imag**2).ravel()
        else:
            np.square(c, out=w[start:stop].reshape(c.shape))
        np.subtract(lam_out[:, None], lam_in[None, :], out=delta[start:stop].reshape(c.shape))
        start = stop
    return w, delta


def _log_sum_exp_derivatives(logw, delta, delta2, a: float, buf) -> tuple[float, float]:
    """``f'(a)`` and ``f''(a)`` of ``f(a) = log sum exp(logw - a delta)``.

    With ``p ∝ exp(logw - a delta)``: ``f' = -E_p[delta]`` and ``f'' = Var_p[delta] =
    E_p[delta^2] - E_p[delta]^2`` (``delta2 = delta^2``; the cancellation is harmless near the
    minimiser, where ``E_p[delta] = 0``, and elsewhere the caller's bracketing takes over).
    ``buf`` (same size as delta) is scratch space.
    """
    np.multiply(delta, -a, out=buf)
    buf += logw
    buf -= buf.max()
    np.exp(buf, out=buf)
    total = buf.sum()
    m = float(buf @ delta) / total
    return -m, float(buf @ delta2) / total - m * m


def _line_search(C, eig) -> float:
    """Exact minimiser ``a >= 0`` of ``R(exp(-a s/2).W)``, from the eigen-coordinates ``C_i``.

    ``f(a) = log R(exp(-a s/2).W) = log sum w exp(-a delta) + const`` (:func:`_exponential_sum`) is
    convex; safeguarded Newton on it from the Newton step ``a = 1``, bracketing the root of ``f'``.
    ``f'(0) = -sum w delta / sum w`` costs no exponential (it is ``-<s, mu> / 2R``). A Newton
    correction below ``1e-5 a`` is taken without another evaluation (the next one would be
    ``O(1e-10 a)``, far below what the next Newton iteration corrects), so one or two evaluations
    suffice (measured N = 8, d = 256: two per line search).
    """
    w, delta = _exponential_sum(C, eig)
    total = w.sum()
    if total == 0 or np.ptp(delta) == 0:
        return 1.0
    g0 = -float(w @ delta) / total
    if g0 >= 0:
        return 0.0
    with np.errstate(divide="ignore"):
        logw = np.log(w)  # zero weights give -inf: exp(-inf) = 0
    buf, delta2 = np.empty_like(w), np.square(delta)
    lo, hi, a = 0.0, None, 1.0
    for _ in range(60):
        g, c = _log_sum_exp_derivatives(logw, delta, delta2, a, buf)
        if abs(g) <= 1e-14 * abs(g0):
            return a
        if g < 0:
            lo = a
        else:
            hi = a
        step = a - g / c if c > 0 else np.inf
        if hi is None:
            nxt = step if np.isfinite(step) and step > a else 2 * a
            if nxt > 1e6:
                return lo
        else:
            nxt = step if lo < step < hi else 0.5 * (lo + hi)
            if hi - lo <= 1e-14 * hi:
                return nxt
        if nxt == step and abs(step - a) <= 1e-5 * a:
            return step
        a = nxt
    return a


def _forcing(mu_norm: float, R: float, tol: float) -> float:
    """Relative tolerance of the Newton solve: ``eta = min(1/4, max(10 ||mu|| / 2R, tol R / (10 ||mu||)))``.

    The new moment map is about ``eta ||mu|| + C ||mu||^2 / 2R`` (C ~ 20-40 measured at N = 8,
    d = 256): ``eta`` of order ``||mu|| / 2R`` keeps the convergence quadratic (the factor 10 halves
    the PCG iterations there without costing a Newton iteration), and no solve needs to be more
    accurate than what brings ``||mu||`` to a tenth of the target ``tol R`` (the last solve is
    then loose).
    """
    return min(0.25, max(10 * mu_norm / (2 * R), 0.1 * tol * R / mu_norm))


#: Largest Taylor degree of the full step (:func:`_full_step`); larger steps take the eigen path.
MAX_TAYLOR_DEGREE = 6


def _taylor_degree(x: float) -> int | None:
    """Smallest k with ``2 e^{2x} x^{k+1} / (k+1)! <= 1e-17``, None if above :data:`MAX_TAYLOR_DEGREE`.

    For ``||y|| <= x`` the truncated series ``T_k(y) = sum_{j<=k} y^j / j!`` then satisfy
    ``T_k(-y) T_k(y) = I`` to rounding (the remainders of ``exp(-y) exp(y) = I``).
    """
    bound = 2.0 * np.exp(2.0 * x) * x
    for k in range(1, MAX_TAYLOR_DEGREE + 1):
        bound *= x / (k + 1)
        if bound <= 1e-17:
            return k
    return None


def _taylor_exp_pair(y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(T_k(-y), T_k(y))``, truncated Taylor series of ``exp(-y)`` and ``exp(y)`` sharing the powers of y."""
    g = np.eye(y.shape[0], dtype=y.dtype)
    h = g.copy()
    term = g
    for j in range(1, k + 1):
        term = (term @ y) / j
        h += term
        if j % 2:
            g -= term
        else:
            g += term
    return g, h


def _full_step(W, s, k: int, mu_norm: float):
    """The full Newton step ``exp(-s/2).W`` by truncated Taylor series of degree k, if it is good.

    ``g_i = T_k(-s_i/2)``, ``g_i^{-1} = T_k(s_i/2)`` with k from :func:`_taylor_degree` of
    ``max_i ||s_i||_F / 2`` (so X is kept to rounding), applied as ``W_i <- g_i W_i g_{i-1}^{-1}``:
    about k + 1 matrix products per layer instead of an eigendecomposition and a line search.
    Returns ``(W, mu)``, or None when the step does not reduce ``||mu||`` fourfold (not in the
    quadratic phase: the caller takes the exact line search instead).
    """
    W_new = _act_pairs([_taylor_exp_pair(0.5 * m, k) for m in s], W)
    mu = _moment_map(W_new)
    return (W_new, mu) if norm(mu) <= 0.25 * mu_norm else None


def _searched_step(W, s):
    """``exp(-a s/2).W`` with the exact line search: ``(a, W, mu)``; ``(0, W, None)`` if a = 0."""
    eig = hermitian_eig(s)
    C = _eigen_coordinates(W, eig)
    a = _line_search(C, eig)
    if a == 0.0:
        return a, W, None
    W = _geodesic_point(C, eig, a)
    return a, W, _moment_map(W)


def newton_balance(W, *, tol: float = 1e-12, max_iter: int = 30) -> NewtonRun:
    """Geodesic Newton iteration from W until ``||mu|| <= tol R(W)`` (see the module docstring)."""
    W = scalar_prebalance(W)
    swept = 0
    for _ in range(SWEEPS if len(W) > 2 else 1):
        W, moved = geometric_mean_sweep(W)
        swept = max(swept, moved)
        if not moved:
            break
    # ker A_{g.W} = g ker A_W g^{-1}: once certified from the layers, or found by the first solve (from
    # the frames' condition-number certificate, else stabiliser_subspace), it stays trivial
    trivial = stabiliser_is_trivial(W)
    mu = _moment_map(W)
    history = [norm(mu)]
    steps, inner, failures = [], [], []
    converged = history[-1] <= tol * _regularizer(W)
    it = 0
    try_full = True  # until a full step is rejected (e.g. non-closed orbits: linear convergence)
    while not converged and it < max_iter:
        R = _regularizer(W)
        # QR frames: half the cost of polar ones, as good for these loose solves (see GramOperator)
        sol = newton_direction(W, mu, max(_forcing(history[-1], R, tol), 1e-14), trivial_kernel=trivial)
        trivial = sol.trivial_kernel
        inner.append(sol.iterations)
        if not sol.converged:
            failures.append(f"iteration {it + 1}: {sol.message}")
        k = _taylor_degree(0.5 * max(float(np.linalg.norm(m)) for m in sol.s)) if try_full else None
        full = None if k is None else _full_step(W, sol.s, k, history[-1])
        try_full = try_full and (k is None or full is not None)
        a, W, mu = (1.0, *full) if full is not None else _searched_step(W, sol.s)
        steps.append(a)
        if a == 0.0:
            rel = history[-1] / (2 * R)
            failures.append(f"stagnated at the rounding level of mu (||mu|| / 2R = {rel:.1e})" if rel <= ROUNDING_FLOOR
                            else f"iteration {it + 1}: the Newton direction is not a descent direction")
            break
        history.append(norm(mu))
        it += 1
        converged = history[-1] <= tol * _regularizer(W)
    return NewtonRun(W, converged, it, history, steps, inner, failures, swept)
