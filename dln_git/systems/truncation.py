"""Balanced truncation with the a-priori bound and a measured error (docs/math section 5).

Keep the k largest Hankel singular values ``s_1 >= ... >= s_k`` of the balanced stable part: with
``T = S^{-1/2} U^* L_o^*`` and ``T^{-1} = L_c V S^{-1/2}`` restricted to their first k rows / columns
(``left``, k x n, and ``right``, n x k, ``left @ right = I_k``) the reduced system is
``(left A right, left B, C right, D)``. Its error satisfies the classical bound (Enns; Glover)

    ``||G - G_k||_inf <= 2 (s_{k+1} + ... + s_n)``

in both time domains, and ``||G - G_k||_inf >= s_{k+1}``. The measured error is the largest
``sigma_max(G - G_k)`` on a frequency grid (``j omega`` on a log grid spanning the poles, or
``e^{j theta}`` on ``[0, pi]``, ``[-pi, pi]`` for complex systems), refined twice around its
maximum: a lower estimate of the H-infinity norm. The unstable part of an unstable system is
kept whole, so the error is that of the stable part alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .balanced import BOUNDARY_RULE, RANK_RTOL, UNSTABLE_RULE, _assemble, _balance_stable
from .gramians import BOUNDARY_TOL, check_stable
from .stable_split import split_stable
from .state_space import StateSpace, as_state_space

__all__ = ["TruncationResult", "balanced_truncation", "hinf_norm_estimate"]

_ORDER_RULE = Rule.count(0, "the order of the reduced system", allow_none=True)
_TOL_RULE = Rule.positive("the a-priori error bound 2 sum(discarded HSV) relative to s_1", allow_none=True)
_NFREQ_RULE = Rule.count(8, "the number of frequency-grid points")


@dataclass(frozen=True)
class TruncationResult:
    """A reduced system computed by :func:`balanced_truncation`.

    Attributes
    ----------
    system : StateSpace
        ``(left A right, left B, C right, D)``; stable part first, unstable part (kept) last.
    left, right : ndarray
        Projections, ``order x n`` and ``n x order``, with ``left @ right = I`` (Petrov–Galerkin:
        reduced state ``x_r = left @ x``, lifted back as ``right @ x_r``).
    hsv : ndarray
        All Hankel singular values of the stable part, descending.
    order : int
        States of the reduced system (including ``n_unstable`` unstable ones).
    n_unstable : int
        Unstable states kept whole.
    bound : float
        ``2 sum`` of the discarded Hankel singular values (every state after the first
        ``order - n_unstable`` of the stable part).
    error : float
        Measured ``max sigma_max(G - G_r)`` on the frequency grid (``nan`` if not measured).
    error_point : complex
        Where the measured error is largest (``s = j omega`` or ``z = e^{j theta}``).
    converged : bool
        Finite output, and the measured error (if measured) within the bound up to rounding.
    message : str
    """

    system: StateSpace
    left: np.ndarray
    right: np.ndarray
    hsv: np.ndarray
    order: int
    n_unstable: int
    bound: float
    error: float
    error_point: complex
    converged: bool
    message: str


def _grid(poles: np.ndarray, discrete: bool, complex_sys: bool, n_freq: int) -> np.ndarray:
    """Evaluation points: log grid over the pole magnitudes plus the pole frequencies (continuous),
    or the unit circle plus the pole angles (discrete)."""
    if discrete:
        lo = -np.pi if complex_sys else 0.0
        theta = np.concatenate([np.linspace(lo, np.pi, n_freq), np.angle(poles)])
        theta = theta[(theta >= lo) & (theta <= np.pi)]
        return np.exp(1j * np.unique(theta))
    mags = np.abs(poles[poles != 0]) if poles.size else np.ones(1)
    mags = mags if mags.size else np.ones(1)
    w = np.logspace(np.log10(mags.min()) - 3, np.log10(mags.max()) + 3, n_freq)
    w = np.concatenate([[0.0], w, np.abs(poles.imag)])
    if complex_sys:
        w = np.concatenate([w, -w])
    return 1j * np.unique(w)


def _sigma_max(G: np.ndarray) -> np.ndarray:
    return np.linalg.svd(G, compute_uv=False)[:, 0] if G.shape[1] and G.shape[2] else np.zeros(G.shape[0])


def hinf_norm_estimate(sys, other=None, *, n_freq: int = 400) -> tuple[float, complex]:
    """``max sigma_max(G(x) - G_other(x))`` over a frequency grid and where it is reached.

    A lower estimate of the H-infinity norm of ``G - G_other`` (of ``G`` when ``other`` is None)
    for stable systems: the grid (see the module docstring) is refined twice, with ``n_freq // 4``
    points between the neighbours of the current maximiser.
    """
    sys = as_state_space(sys)
    (n_freq,) = check_options(n_freq=(n_freq, _NFREQ_RULE))
    systems = [sys] if other is None else [sys, as_state_space(other)]
    poles = np.concatenate([s.poles() for s in systems])
    complex_sys = any(s.is_complex for s in systems)

    def err(points):
        G = systems[0].transfer_function(points)
        if len(systems) == 2:
            G = G - systems[1].transfer_function(points)
        return _sigma_max(G)

    pts = _grid(poles, sys.is_discrete, complex_sys, n_freq)
    vals = err(pts)
    if not sys.is_discrete:  # s -> infinity: the D terms
        D = systems[0].D - (systems[1].D if len(systems) == 2 else 0)
        inf_val = float(np.linalg.norm(D, 2)) if D.size else 0.0
    else:
        inf_val = 0.0
    for _ in range(2):
        k = int(np.argmax(vals))
        a, b = pts[max(k - 1, 0)], pts[min(k + 1, pts.size - 1)]
        if sys.is_discrete:
            ta, tb = np.angle(a), np.angle(b)
            tb = tb if tb >= ta else tb + 2 * np.pi
            fine = np.exp(1j * np.linspace(ta, tb, max(n_freq // 4, 8)))
        else:
            fine = 1j * np.linspace(a.imag, b.imag, max(n_freq // 4, 8))
        pts = np.concatenate([pts, fine])
        vals = np.concatenate([vals, err(fine)])
    k = int(np.argmax(vals))
    if inf_val > vals[k]:
        return inf_val, complex(np.inf)
    return float(vals[k]), complex(pts[k])


def _choose_order(hsv: np.ndarray, r: int, order, tol, n_unstable: int) -> tuple[int, str]:
    """Order of the stable part to keep, and a note on how it was chosen."""
    if order is not None and tol is not None:
        raise ValueError("give order or tol, not both")
    if order is not None:
        if order < n_unstable:
            raise ValueError(f"order = {order} is below the number of unstable states ({n_unstable}), "
                             "which are kept whole")
        k = order - n_unstable
        if k > r:
            return r, (f"order {order} asked, {r + n_unstable} kept: the other {k - r} stable state(s) have HSV "
                       f"<= rank_rtol sqrt(||P|| ||Q||) (numerically non-minimal, not balanceable)")
        return k, f"order {order} asked"
    if tol is not None:
        s1 = hsv[0] if hsv.size else 0.0
        tails = 2 * np.concatenate([np.cumsum(hsv[::-1])[::-1], [0.0]])  # tails[k] = 2 sum_{j>=k} s_j
        k = int(np.argmax(tails <= tol * s1))
        return min(k, r), f"smallest order with bound <= tol * s_1 = {tol * s1:.3e}"
    return r, "no order or tol: the numerically minimal order"


def balanced_truncation(sys, order: int | None = None, tol: float | None = None, *, unstable: str = "split",
                        rank_rtol: float = RANK_RTOL, measure_error: bool = True, n_freq: int = 400,
                        boundary_tol: float = BOUNDARY_TOL) -> TruncationResult:
    """Balanced truncation of ``sys`` to ``order`` states, or to the a-priori bound ``tol * s_1``.

    Parameters
    ----------
    sys : StateSpace or tuple (A, B, C[, D[, dt]])
    order : int, optional
        States of the reduced system, unstable ones included (at least their number).
    tol : float, optional
        Keep the fewest states with ``2 sum(discarded HSV) <= tol * s_1``. Neither given: keep
        the numerically minimal part (HSV above ``rank_rtol sqrt(||P|| ||Q||)``).
    unstable : {"split", "raise"}
        Keep the unstable part whole and reduce the stable part, or raise ``ValueError``.
    rank_rtol : float
        HSV at most ``rank_rtol sqrt(||P|| ||Q||)`` are never kept (their states cannot be balanced).
    measure_error : bool
        Estimate ``||G - G_r||_inf`` on a frequency grid of ``n_freq`` points (see module docstring).
    boundary_tol : float
        Poles this close to the stability boundary raise ``ValueError``.

    Returns
    -------
    TruncationResult
        ``converged=False`` (with the reason) if the output is not finite or the measured error
        exceeds the bound by more than rounding (``1e-9 (bound + s_1)``).
    """
    sys = as_state_space(sys)
    order, tol, unstable, rank_rtol, measure_error, n_freq, boundary_tol = check_options(
        order=(order, _ORDER_RULE), tol=(tol, _TOL_RULE), unstable=(unstable, UNSTABLE_RULE), rank_rtol=rank_rtol,
        measure_error=(measure_error, Rule.flag("whether to measure the error on a frequency grid")),
        n_freq=(n_freq, _NFREQ_RULE), boundary_tol=(boundary_tol, BOUNDARY_RULE))
    if order is not None and order > sys.n_states:
        raise ValueError(f"order = {order} exceeds the number of states n = {sys.n_states}")
    if unstable == "raise":
        check_stable(sys, "balanced truncation", boundary_tol)
    split = split_stable(sys, boundary_tol)
    st = split.stable
    bal = _balance_stable(st, rank_rtol, boundary_tol)
    k, how = _choose_order(bal.hsv, bal.order, order, tol, split.n_unstable)
    left_s, right_s = bal.T[:k], bal.T_inv[:, :k]
    reduced_stable = StateSpace(left_s @ st.A @ right_s, left_s @ st.B, st.C @ right_s, st.D, sys.dt)
    system, left, right = _assemble(split, reduced_stable, left_s, right_s, sys.dt)
    bound = float(2 * np.sum(bal.hsv[k:]))
    finite = all(np.isfinite(M).all() for M in (system.A, system.B, system.C, left, right))
    parts = [how, f"kept {k} of {st.n_states} stable state(s)", f"a-priori bound {bound:.3e}"]
    if split.n_unstable:
        parts.append(f"{split.n_unstable} unstable state(s) kept whole (not reduced)")
    error, where, converged = np.nan, complex(np.nan), finite
    if not finite:
        parts.append("non-finite reduced system")
    elif measure_error:
        error, where = hinf_norm_estimate(st, reduced_stable, n_freq=n_freq)
        s1 = bal.hsv[0] if bal.hsv.size else 0.0
        slack = 1e-9 * (bound + s1) + 1e3 * np.finfo(float).eps * float(np.linalg.norm(st.D, 2) if st.D.size else 0)
        parts.append(f"measured error {error:.3e} (grid estimate of the H-infinity norm)")
        if not error <= bound + slack:
            converged = False
            parts.append("measured error ABOVE the a-priori bound: the Gramians are inaccurate")
    return TruncationResult(system, left, right, bal.hsv.copy(), system.n_states, split.n_unstable, bound,
                            float(error), where, bool(converged), "; ".join(parts))
