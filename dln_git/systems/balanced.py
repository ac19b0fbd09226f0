"""Moore's balanced realization by the square-root method (docs/math section 5).

With ``P = L_c L_c^*``, ``Q = L_o L_o^*`` and the SVD ``L_o^* L_c = U S V^*`` (S the Hankel singular
values),

    ``T = S^{-1/2} U^* L_o^*``,   ``T^{-1} = L_c V S^{-1/2}``

gives ``T P T^* = S^{-1/2} U^* L_o^* L_c L_c^* L_o U S^{-1/2} = S`` and likewise
``T^{-*} Q T^{-1} = S``: both Gramians equal and diagonal. ``T T^{-1} = I`` holds by the same
algebra, so T^{-1} is never computed by inversion. States whose Hankel singular value is at most
``rank_rtol * ||L_o|| ||L_c||`` (``= rank_rtol sqrt(||P|| ||Q||)``, at least ``rank_rtol s_1``; the
absolute accuracy of the computed values is about eps times it) are (numerically) uncontrollable or
unobservable; only the minimal part,
``S`` restricted to the larger values, can be balanced (then T is r x n and T^{-1} is n x r, a
projection pair with ``T T^{-1} = I_r``). Unstable systems: the stable part is balanced, the
unstable part (:mod:`dln_git.systems.stable_split`) is kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.options import Rule, check_options
from .gramians import (
    BOUNDARY_RULE,
    BOUNDARY_TOL,
    check_stable,
    gramians,
    gramians_of_schur_form,
    normalised,
    scaled_hsv,
)
from .stable_split import StableSplit, split_stable
from .state_space import StateSpace, as_state_space

__all__ = ["BalancedRealization", "balanced_realization"]

#: Default ``rank_rtol``: Hankel singular values at most this times s_1 count as zero. The
#: square-root method determines s_k to an absolute accuracy of a modest multiple of
#: ``eps * s_1``, so values below about 1e-13 s_1 carry no correct digit.
RANK_RTOL = 1e-13
#: ``converged`` requires ``||T T_inv - I||_2 <= INVERSE_RTOL ||T||_2 ||T_inv||_2`` (for a square T the
#: scale is cond(T)). The computed product errs by about ``eps s_1 / s_r`` on the state of the smallest
#: kept Hankel singular value s_r: states kept with ``s_r`` near ``rank_rtol s_1`` (HSV spread over
#: 10+ decades, as from ``control.rss`` at n = 200) can miss it; the message then says so.
INVERSE_RTOL = 1e-12
UNSTABLE_RULE = Rule.choice("split", "raise", what="'split': keep the unstable part whole; 'raise': refuse")
NONMINIMAL_RULE = Rule.choice("reduce", "raise", what="'reduce': balance the minimal part; 'raise': refuse")


@dataclass(frozen=True)
class _StableBalance:
    T: np.ndarray  # r x n
    T_inv: np.ndarray  # n x r
    hsv: np.ndarray  # all n values, descending
    order: int


def _balance_stable(sys: StateSpace, rank_rtol: float, boundary_tol: float) -> _StableBalance:
    """Square-root balancing of a stable system (see the module docstring)."""
    n = sys.n_states
    if n == 0:
        return _StableBalance(np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(0), 0)
    # on (A, B/b, C/c): T~ balances it, and T = sqrt(c/b) T~ balances (A, B, C) with HSV b c s~
    scaled, b, c = normalised(sys)
    g = gramians_of_schur_form(scaled)  # sys.A is the stable Schur block of split_stable
    s = np.zeros(n)
    if g.Lo.shape[1] == 0 or g.Lc.shape[1] == 0:  # B = 0 or C = 0 (to rounding): nothing is minimal
        return _StableBalance(np.zeros((0, n)), np.zeros((n, 0)), scaled_hsv(s, b, c), 0)
    U, top, Vh = scipy.linalg.svd(g.Lo.conj().T @ g.Lc, full_matrices=False)
    s[: top.size] = top
    # the absolute accuracy of the computed s_k is ~ eps ||L_o|| ||L_c|| = eps sqrt(||P|| ||Q||) >= eps s_1:
    # the cut is relative to that scale (relative to s_1 alone, X = W_2 W_1 = 0 up to rounding would
    # keep a state made of rounding errors)
    scale = np.linalg.norm(g.Lo[:, -1]) * np.linalg.norm(g.Lc[:, -1])  # columns of eigenvalues, largest last
    r = int(np.sum(s > rank_rtol * scale)) if s[0] > 0 else 0
    hsv = scaled_hsv(s, b, c)
    root = 1.0 / np.sqrt(s[:r])
    ratio = np.sqrt(c / b)
    T = (ratio * root)[:, None] * (U[:, :r].conj().T @ g.Lo.conj().T)
    T_inv = (g.Lc @ Vh[:r].conj().T) * (root / ratio)
    return _StableBalance(T, T_inv, hsv, r)


def _block_diag(a, b):
    return scipy.linalg.block_diag(a, b) if a.size or b.size else np.zeros((a.shape[0] + b.shape[0],) * 2)


def _assemble(split: StableSplit, stable_sys: StateSpace, left: np.ndarray, right: np.ndarray, dt):
    """The system ``diag(stable_sys, unstable)`` and the projections ``left = blkdiag(L, I) T_split``,
    ``right = T_split_inv blkdiag(R, I)`` onto its coordinates."""
    u = split.unstable
    ku = u.n_states
    A = _block_diag(stable_sys.A, u.A)
    B = np.vstack([stable_sys.B, u.B])
    C = np.hstack([stable_sys.C, u.C])
    out = StateSpace(A, B, C, stable_sys.D, dt)
    L = np.zeros((left.shape[0] + ku, split.T.shape[0]), dtype=np.result_type(left, split.T))
    L[: left.shape[0], : left.shape[1]] = left
    L[left.shape[0]:, left.shape[1]:] = np.eye(ku)
    Rm = np.zeros((split.T.shape[0], right.shape[1] + ku), dtype=np.result_type(right, split.T))
    Rm[: right.shape[0], : right.shape[1]] = right
    Rm[right.shape[0]:, right.shape[1]:] = np.eye(ku)
    return out, L @ split.T, split.T_inv @ Rm


@dataclass(frozen=True)
class BalancedRealization:
    """A balanced realization computed by :func:`balanced_realization`.

    Attributes
    ----------
    system : StateSpace
        ``(T A T^{-1}, T B, C T^{-1}, D)``: stable part first (balanced), unstable part last (kept).
    T, T_inv : ndarray
        ``x_bal = T x``; ``T`` is ``order x n``, ``T_inv`` is ``n x order`` and ``T @ T_inv = I``.
        Square (and mutually inverse) when the input was minimal.
    hsv : ndarray
        Hankel singular values of the stable part (all of them, descending, including those of
        removed states).
    order : int
        States of the balanced system (balanced stable part plus unstable part).
    n_removed : int
        Numerically non-minimal states removed (HSV at most ``rank_rtol sqrt(||P|| ||Q||)``).
    n_unstable : int
        States of the unstable part, kept whole (0 for a stable input).
    inverse_residual : float
        ``||T T_inv - I||_2 / (||T||_2 ||T_inv||_2)`` (``converged`` requires at most
        :data:`INVERSE_RTOL`).
    gramian_residual : float
        ``max(||P_b - S||_F, ||Q_b - S||_F) / ||S||_F`` with ``P_b, Q_b`` the Gramians of the
        balanced stable part recomputed by the Lyapunov solvers (``nan`` when ``verify=False``).
    converged : bool
        Finite output and, if verified, ``gramian_residual <= rtol``.
    message : str
    """

    system: StateSpace
    T: np.ndarray
    T_inv: np.ndarray
    hsv: np.ndarray
    order: int
    n_removed: int
    n_unstable: int
    gramian_residual: float
    converged: bool
    message: str
    inverse_residual: float = 0.0

    @property
    def minimal(self) -> bool:
        """No state was removed as numerically uncontrollable or unobservable."""
        return self.n_removed == 0

    @property
    def stable_part(self) -> StateSpace:
        """The balanced stable part (the first ``order - n_unstable`` states)."""
        k = self.order - self.n_unstable
        s = self.system
        return StateSpace(s.A[:k, :k], s.B[:k], s.C[:, :k], s.D, s.dt)


def gramian_residual(stable_balanced: StateSpace, hsv: np.ndarray, boundary_tol: float = BOUNDARY_TOL) -> float:
    """``max(||P - diag(hsv)||_F, ||Q - diag(hsv)||_F) / ||hsv||`` for a balanced stable system."""
    if stable_balanced.n_states == 0:
        return 0.0
    # at the scale of hsv[0] (B and C divided by sqrt(hsv[0])), so that B B^* stays representable
    f = 1.0 / np.sqrt(hsv[0])
    sb = stable_balanced
    g = gramians(StateSpace(sb.A, sb.B * f, sb.C * f, sb.D, sb.dt), boundary_tol=boundary_tol)
    S = np.diag(hsv / hsv[0])
    return float(max(np.linalg.norm(g.P - S), np.linalg.norm(g.Q - S)) / np.linalg.norm(hsv / hsv[0]))


def balanced_realization(sys, *, unstable: str = "split", nonminimal: str = "reduce", rank_rtol: float = RANK_RTOL,
                         rtol: float = 1e-10, verify: bool = True,
                         boundary_tol: float = BOUNDARY_TOL) -> BalancedRealization:
    """Moore's balanced realization: Gramians equal and diagonal, with T and T^{-1}.

    Parameters
    ----------
    sys : StateSpace or tuple (A, B, C[, D[, dt]])
    unstable : {"split", "raise"}
        Unstable poles: balance the stable part and keep the unstable part whole ("split"), or
        raise ``ValueError``. Poles on the stability boundary always raise.
    nonminimal : {"reduce", "raise"}
        States with Hankel singular value ``<= rank_rtol ||L_o|| ||L_c||``: balance the minimal part and
        report them as removed ("reduce"), or raise ``ValueError``.
    rank_rtol : float
        Relative cut-off on the Hankel singular values for minimality (relative to
        ``||L_o||_2 ||L_c||_2 = sqrt(||P||_2 ||Q||_2) >= s_1``).
    rtol : float
        Accuracy required of the recomputed balanced Gramians (``gramian_residual``).
    verify : bool
        Recompute the Gramians of the balanced system (two more Lyapunov solves) to check them.
    boundary_tol : float
        Poles this close to the stability boundary are rejected (see :func:`check_stable`).

    Returns
    -------
    BalancedRealization
    """
    sys = as_state_space(sys)
    unstable, nonminimal, rank_rtol, rtol, verify, boundary_tol = check_options(
        unstable=(unstable, UNSTABLE_RULE), nonminimal=(nonminimal, NONMINIMAL_RULE), rank_rtol=rank_rtol,
        rtol=rtol, verify=verify, boundary_tol=(boundary_tol, BOUNDARY_RULE))
    if unstable == "raise":
        check_stable(sys, "a balanced realization", boundary_tol)
    split = split_stable(sys, boundary_tol)
    st = split.stable
    bal = _balance_stable(st, rank_rtol, boundary_tol)
    n_removed = st.n_states - bal.order
    if n_removed and nonminimal == "raise":
        raise ValueError(
            f"the system is not minimal: {n_removed} of {st.n_states} stable states have Hankel singular values "
            f"<= rank_rtol sqrt(||P|| ||Q||) (numerically uncontrollable "
            "or unobservable); pass nonminimal='reduce' to balance the minimal part"
        )
    Tb, Tib = bal.T, bal.T_inv
    stable_bal = StateSpace(Tb @ st.A @ Tib, Tb @ st.B, st.C @ Tib, st.D, sys.dt)
    system, T, T_inv = _assemble(split, stable_bal, Tb, Tib, sys.dt)
    finite = all(np.isfinite(M).all() for M in (system.A, system.B, system.C, T, T_inv))
    residual = gramian_residual(stable_bal, bal.hsv[: bal.order], boundary_tol) if (verify and finite) else np.nan
    parts = [f"balanced {bal.order} stable state(s); Hankel singular values {_span(bal.hsv[: bal.order])}"]
    if n_removed:
        parts.append(f"{n_removed} non-minimal state(s) removed (HSV <= {rank_rtol:g} sqrt(||P|| ||Q||))")
    if split.n_unstable:
        parts.append(f"{split.n_unstable} unstable state(s) kept whole, not balanced "
                     f"(Sylvester coupling ||X|| = {split.coupling_norm:.2e})")
    inverse = _inverse_residual(T, T_inv) if finite else np.nan
    converged = finite and (not verify or residual <= rtol) and inverse <= INVERSE_RTOL
    if not finite:
        parts.append("non-finite result")
    elif inverse > INVERSE_RTOL:
        parts.append(f"||T T_inv - I|| = {inverse:.1e} ||T|| ||T_inv||, above {INVERSE_RTOL:g}: the states of the "
                     "smallest kept Hankel singular values carry few correct digits; a larger rank_rtol drops them")
    elif verify:
        parts.append(f"Gramian residual {residual:.1e}" + ("" if residual <= rtol else f" above rtol = {rtol:g}"))
    return BalancedRealization(system, T, T_inv, bal.hsv.copy(), system.n_states, n_removed, split.n_unstable,
                               residual, bool(converged), "; ".join(parts), float(inverse))


def _inverse_residual(T: np.ndarray, T_inv: np.ndarray) -> float:
    """``||T T_inv - I||_2 / (||T||_2 ||T_inv||_2)`` (0 for an empty T)."""
    if T.shape[0] == 0:
        return 0.0
    scale = np.linalg.norm(T, 2) * np.linalg.norm(T_inv, 2)
    return float(np.linalg.norm(T @ T_inv - np.eye(T.shape[0]), 2) / scale)


def _span(s) -> str:
    return "none" if len(s) == 0 else f"{s[0]:.3e} .. {s[-1]:.3e}"
