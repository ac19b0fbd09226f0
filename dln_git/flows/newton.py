"""Geodesic Newton balancing on ``G/K`` (docs/math section 3).

Along ``exp(t s).W`` with s Hermitian, ``d mu = 2 Herm(A_W^* A_W s)`` [derived], so the Hessian of
the geodesically convex function ``g -> R(g.W)`` at the identity is ``2 Herm o A_W^* A_W`` on
Hermitian directions, and the geodesic Newton step is ``W <- exp(-s/2).W`` with
``Herm(A_W^* A_W s) = mu(W)`` solved over Hermitian s (minimum-norm where singular).

Globalisation (the starts are in :mod:`dln_git.flows.newton_start`):

* for N > 2 square layers of one width, first the merged start: consecutive pairs of layers are
  merged (``V_j = W_{2j} W_{2j-1}``) as long as the products are well conditioned, the merged
  network is balanced recursively, and its gauge is put on W (the even hidden layers), followed
  by the N = 2 oracle on the odd ones; exact for an exactly balanced coarsest network, whose
  balancing is tracked as a gauge element (scalar pre-balancing, sweeps, and this Newton
  iteration on it). It removes the imbalance of long wavelength in depth that the sweeps leave;
* otherwise (or where the merged start does not apply) a scalar pre-balancing: the exact
  minimiser of R over the centre ``g_i = c_i I`` of G, which makes all ``||W_i||_F`` equal to
  their geometric mean (closed form, AM–GM), and two Gauss–Seidel sweeps of exact layer-wise
  balancing by matrix geometric means (the N = 2 oracle on each pair ``(W_i, W_{i+1})``), where
  those Gram matrices are invertible (one for N = 2, where it is exact);
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

Measured (``benchmarks/bench_flows.py`` case 2, N = 8, d = 256, cond X = 1e3): from the sweeps'
start, two line-searched and two full steps, 8 PCG iterations, about 40 SVD charts of X; the
merged start balances it to 1e-12 with no Newton step (about 8 SVD charts). Versus depth
(``benchmarks/bench_newton_depth.py``, Gaussian layers, d = 32, tol 1e-10): from the sweeps'
start the work per Newton iteration grows like N^1.1, but the iteration counts grow too
(Newton 3 -> 8 and PCG 4 -> 42 from N = 3 to 32), so the total grows like N^1.4-1.6; the
merged start needs 0 or 1 Newton iterations on W and 3-6 on its coarsest network (depth about
N/4), 2.5-4.5 times faster at N = 4..32 (fitted over N = 2..32: N^1.3 against N^1.6), but
products of more Gaussian layers are too ill-conditioned to be merged further, so the growth of
Newton on the coarsest network remains (see :mod:`dln_git.flows.newton_start`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.gauge import _act_pairs
from ..core.linalg import herm, norm
from ..core.moment_map import _moment_map, _regularizer
from ..core.scaling import safe_norm
from .lie_group import hermitian_eig
from .newton_start import (
    compose_gauge,
    geometric_mean_sweep,
    merged_gauge,
    scalar_gauge,
    scalar_prebalance,
    tracked_sweep,
)
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
    coarse: NewtonRun | None = None  # the Newton run on the coarsest merged network, if any
    merged: bool = False  # whether the start was the merged gauge (dln_git.flows.newton_start)


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
    Returns ``(W, mu, pairs)`` with the gauge ``pairs = [(g_i, g_i^{-1})]``, or None when the step
    does not reduce ``||mu||`` fourfold (not in the quadratic phase: the caller takes the exact
    line search instead).
    """
    pairs = [_taylor_exp_pair(0.5 * m, k) for m in s]
    W_new = _act_pairs(pairs, W)
    mu = _moment_map(W_new)
    return (W_new, mu, pairs) if norm(mu) <= 0.25 * mu_norm else None


def _searched_step(W, s, tracked: bool):
    """``exp(-a s/2).W`` with the exact line search: ``(a, W, mu, pairs)``; ``(0, W, None, None)`` if a = 0.

    ``pairs = [(E_i e^{-a lam_i/2} E_i^*, E_i e^{a lam_i/2} E_i^*)]`` if ``tracked``, else None.
    """
    eig = hermitian_eig(s)
    C = _eigen_coordinates(W, eig)
    a = _line_search(C, eig)
    if a == 0.0:
        return a, W, None, None
    W = _geodesic_point(C, eig, a)
    pairs = [(E @ (np.exp(-0.5 * a * lam)[:, None] * herm(E)), E @ (np.exp(0.5 * a * lam)[:, None] * herm(E)))
             for lam, E in eig] if tracked else None
    return a, W, _moment_map(W), pairs


def newton_balance(W, *, tol: float = 1e-12, max_iter: int = 30, merged: bool = True) -> NewtonRun:
    """Geodesic Newton iteration from W until ``||mu|| <= tol R(W)`` (see the module docstring).

    With ``merged`` (N > 2), the start is :func:`dln_git.flows.newton_start.merged_gauge` applied to W
    where it applies (its coarsest network balanced by :func:`_tracked_newton` to the same ``tol``).
    """
    coarse = []
    start = _merged_start(W, tol, max_iter, coarse) if merged and len(W) > 2 else None
    if start is not None:
        return _iterate(start, tol, max_iter, coarse=coarse[-1] if coarse else None, merged=True)
    W = scalar_prebalance(W)
    swept = 0
    for _ in range(SWEEPS if len(W) > 2 else 1):
        W, moved = geometric_mean_sweep(W)
        swept = max(swept, moved)
        if not moved:
            break
    return _iterate(W, tol, max_iter, swept=swept)


def _merged_start(W, tol: float, max_iter: int, runs: list):
    """:func:`dln_git.flows.newton_start.merged_gauge` applied to W, or None where it does not apply.

    It runs on the scalar pre-balanced layers divided by the power of two nearest their common
    norm (so that the merged products neither overflow nor underflow), and the result is
    multiplied back (the gauge action is linear in W).
    """
    W = scalar_prebalance(W)
    norm0 = safe_norm(W[0])
    if not (np.isfinite(norm0) and norm0 > 0):
        return None
    scale = 2.0 ** round(np.log2(norm0))
    V = tuple(w / scale for w in W)
    try:
        gauge = merged_gauge(V, lambda U: _tracked_newton(U, tol, max_iter, runs))
    except np.linalg.LinAlgError:
        return None
    if gauge is None:
        return None
    start = _without_unitary_part(_act_pairs(gauge, V), [g for g, _ in gauge])
    start = tuple(w * scale for w in start)
    return start if all(np.all(np.isfinite(w)) for w in start) else None


def _without_unitary_part(start, g):
    """``u^* . start`` with ``g_i = u_i p_i`` (polar): the start ``p . W`` instead of ``g . W``.

    The pair gauges (QR and SVD factors) carry an arbitrary unitary part; ``p . W`` is as balanced
    (``mu(u.W) = u mu(W) u^*``) and equals W when W is already balanced (there ``g`` is unitary),
    so balancing is idempotent and continuous in W, as with the sweeps' start.
    """
    U = []
    for gi in g:
        if not np.all(np.isfinite(gi)):
            return start
        X, _, Yh = np.linalg.svd(gi)
        U.append(X @ Yh)
    out = []
    for i, w in enumerate(start):
        left = herm(U[i]) @ w if i < len(U) else w
        out.append(left @ U[i - 1] if i >= 1 else left)
    return tuple(out)


def _tracked_newton(V, tol: float, max_iter: int, runs: list):
    """The gauge ``[(g_i, g_i^{-1})]`` of a balancing of V (square layers of one width), or None.

    Scalar pre-balancing and :data:`SWEEPS` sweeps of :func:`dln_git.flows.newton_start.tracked_sweep`,
    then the Newton iteration, every step composed into the gauge; the run is appended to ``runs``.
    """
    gauge = scalar_gauge(V)
    V = _act_pairs(gauge, V)
    for _ in range(SWEEPS):
        V = tracked_sweep(V, gauge)
    runs.append(_iterate(V, tol, max_iter, gauge=gauge))
    return gauge if np.all([np.all(np.isfinite(g)) for pair in gauge for g in pair]) else None


def _iterate(W, tol: float, max_iter: int, *, gauge: list | None = None, swept: int = 0, coarse=None,
             merged: bool = False) -> NewtonRun:
    """The Newton iteration from W; every step's gauge is composed into ``gauge`` if given."""
    trivial = None  # certified at the first iteration
    mu = _moment_map(W)
    history = [norm(mu)]
    steps, inner, failures = [], [], []
    converged = history[-1] <= tol * _regularizer(W)
    it = 0
    try_full = True  # until a full step is rejected (e.g. non-closed orbits: linear convergence)
    while not converged and it < max_iter:
        R = _regularizer(W)
        if trivial is None:
            # ker A_{g.W} = g ker A_W g^{-1}: once certified from the layers, or found by the first solve
            # (from the frames' condition-number certificate, else stabiliser_subspace), it stays trivial
            trivial = stabiliser_is_trivial(W)
        # QR frames: half the cost of polar ones, as good for these loose solves (see GramOperator)
        sol = newton_direction(W, mu, max(_forcing(history[-1], R, tol), 1e-14), trivial_kernel=trivial)
        trivial = sol.trivial_kernel
        inner.append(sol.iterations)
        if not sol.converged:
            failures.append(f"iteration {it + 1}: {sol.message}")
        k = _taylor_degree(0.5 * max(float(np.linalg.norm(m)) for m in sol.s)) if try_full else None
        full = None if k is None else _full_step(W, sol.s, k, history[-1])
        try_full = try_full and (k is None or full is not None)
        a, W, mu, pairs = (1.0, *full) if full is not None else _searched_step(W, sol.s, gauge is not None)
        steps.append(a)
        if a == 0.0:
            rel = history[-1] / (2 * R)
            failures.append(f"stagnated at the rounding level of mu (||mu|| / 2R = {rel:.1e})" if rel <= ROUNDING_FLOOR
                            else f"iteration {it + 1}: the Newton direction is not a descent direction")
            break
        if gauge is not None:
            compose_gauge(gauge, pairs)
        history.append(norm(mu))
        it += 1
        converged = history[-1] <= tol * _regularizer(W)
    return NewtonRun(W, converged, it, history, steps, inner, failures, swept, coarse, merged)
