"""Gramians, their square-root factors and Hankel singular values (docs/math section 5).

For a stable system the controllability and observability Gramians P, Q solve

* continuous time: ``A P + P A^* + B B^* = 0`` and ``A^* Q + Q A + C^* C = 0``;
* discrete time:   ``A P A^* - P + B B^* = 0`` and ``A^* Q A - Q + C^* C = 0``

(``scipy.linalg.solve_continuous_lyapunov`` / ``solve_discrete_lyapunov``). Under
``T.(A, B, C) = (T A T^{-1}, T B, C T^{-1})`` they transform as ``P -> T P T^*`` and
``Q -> T^{-*} Q T^{-1}``, so the eigenvalues of ``P Q`` are invariants; their square roots are the
Hankel singular values. They are computed by the square-root method: with ``P = L_c L_c^*`` and
``Q = L_o L_o^*``, the HSV are the singular values of ``L_o^* L_c`` (no product ``P Q``, whose
eigenvalues lose half the digits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.options import Rule, check_options
from .state_space import StateSpace, as_state_space
from .sylvester import lyapunov_schur

__all__ = [
    "BOUNDARY_TOL",
    "Gramians",
    "check_stable",
    "gramian_factor",
    "gramians",
    "gramians_of_schur_form",
    "hankel_singular_values",
]

#: Default relative distance to the stability boundary below which a pole counts as on it.
BOUNDARY_TOL = 1e-9
BOUNDARY_RULE = Rule.nonnegative("the relative distance of a pole to the stability boundary counted as on it")


def _boundary_distance(sys: StateSpace, lam: np.ndarray) -> np.ndarray:
    """Signed distance of each pole to the boundary, relative (> 0 stable side)."""
    if sys.is_discrete:
        return 1.0 - np.abs(lam)
    scale = max(np.linalg.norm(sys.A, 1), np.finfo(float).tiny)
    return -lam.real / scale


def check_stable(sys: StateSpace, what: str = "the Gramians", boundary_tol: float = BOUNDARY_TOL) -> None:
    """Raise ``ValueError`` unless every pole is strictly inside the stability region.

    A pole within ``boundary_tol`` of the boundary (relative to ``||A||_1`` in continuous time,
    absolute in ``| |z| - 1 |`` in discrete time) is reported as on the boundary.
    """
    (boundary_tol,) = check_options(boundary_tol=(boundary_tol, BOUNDARY_RULE))
    lam = sys.poles()
    if lam.size == 0:
        return
    dist = _boundary_distance(sys, lam)
    region = "|z| < 1" if sys.is_discrete else "Re(s) < 0"
    on = np.abs(dist) <= boundary_tol
    if on.any():
        raise ValueError(
            f"{what} need an asymptotically stable system, but {int(on.sum())} pole(s) lie on the stability "
            f"boundary (within boundary_tol = {boundary_tol:g}), e.g. {lam[on][0]:.6g}; no balanced realization "
            "exists for such a system (split it off or shift it first)"
        )
    bad = dist < 0
    if bad.any():
        raise ValueError(
            f"{what} need an asymptotically stable system ({region}), but {int(bad.sum())} pole(s) are unstable, "
            f"e.g. {lam[bad][0]:.6g}; use balanced_realization/balanced_truncation with unstable='split' to "
            "treat the stable part only"
        )


@dataclass(frozen=True)
class Gramians:
    """Controllability Gramian P, observability Gramian Q and factors ``P = Lc Lc^*``, ``Q = Lo Lo^*``."""

    P: np.ndarray
    Q: np.ndarray
    Lc: np.ndarray
    Lo: np.ndarray


def _hermitian(M: np.ndarray) -> np.ndarray:
    return (M + M.conj().T) / 2


def _lyapunov(A: np.ndarray, W: np.ndarray, discrete: bool) -> np.ndarray:
    if A.shape[0] == 0:
        return np.zeros((0, 0), dtype=W.dtype)
    if discrete:
        return _hermitian(scipy.linalg.solve_discrete_lyapunov(A, W))
    return _hermitian(scipy.linalg.solve_continuous_lyapunov(A, -W))


def gramian_factor(G) -> np.ndarray:
    """A factor ``L`` (n x r, r the numerical rank) with ``L L^* = G`` for a Hermitian PSD ``G``.

    ``L = V diag(sqrt(lambda_+))`` from the eigendecomposition ``G = V diag(lambda) V^*``, where
    ``lambda_+`` is lambda with every eigenvalue ``<= n eps lambda_max`` set to zero: unlike a
    Cholesky factorisation it exists for singular G. A computed Gramian is only known to about
    ``eps ||G||``, so those eigenvalues are rounding noise; left in, their square roots
    (``~ sqrt(eps) ||G||^{1/2}``) would turn into spurious Hankel singular values of relative size
    1e-8 for a non-minimal system (measured on a rank-one ``W_1``).
    """
    G = np.asarray(G)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square matrix, got shape {G.shape}")
    if G.shape[0] == 0:
        return np.zeros((0, 0), dtype=G.dtype)
    lam, V = np.linalg.eigh(_hermitian(G))
    floor = G.shape[0] * np.finfo(float).eps * max(lam[-1], 0.0)
    keep = lam > floor
    return V[:, keep] * np.sqrt(lam[keep])


def gramians(sys, *, boundary_tol: float = BOUNDARY_TOL) -> Gramians:
    """Both Gramians of a stable system and their square-root factors.

    Raises
    ------
    ValueError
        If the system is unstable or has poles on the stability boundary (the Gramians do not
        exist, or are infinite).
    """
    sys = as_state_space(sys)
    check_stable(sys, "the Gramians", boundary_tol)
    A = sys.A
    P = _lyapunov(A, sys.B @ sys.B.conj().T, sys.is_discrete)
    Q = _lyapunov(A.conj().T, sys.C.conj().T @ sys.C, sys.is_discrete)
    if not (np.isfinite(P).all() and np.isfinite(Q).all()):
        raise ValueError("the Lyapunov solvers returned non-finite Gramians (entries of the system too large?)")
    return Gramians(P, Q, gramian_factor(P), gramian_factor(Q))


def _power_of_two(M: np.ndarray) -> float:
    """``2^e`` with ``2^e <= max|M_ij| < 2^{e+1}`` (1 for a zero matrix): an exact rescaling factor."""
    top = float(np.max(np.abs(M))) if M.size else 0.0
    return 1.0 if top == 0 else float(np.ldexp(1.0, int(np.frexp(top)[1]) - 1))


def normalised(sys: StateSpace) -> tuple[StateSpace, float, float]:
    """``(A, B/b, C/c, D)`` with b, c powers of two making ``max|B|``, ``max|C|`` about one, and (b, c).

    The Gramians of the rescaled system are ``P/b^2`` and ``Q/c^2`` and its Hankel singular values
    ``s/(b c)``: this keeps ``B B^*`` and ``C^* C`` representable for systems whose B, C are so small or
    large that the squares under- or overflow while the Hankel singular values do not.
    """
    b, c = _power_of_two(sys.B), _power_of_two(sys.C)
    return StateSpace(sys.A, sys.B / b, sys.C / c, sys.D, sys.dt), b, c


def scaled_hsv(s: np.ndarray, b: float, c: float) -> np.ndarray:
    """``b c s``, or ``ValueError`` where a nonzero value is not representable in float64."""
    with np.errstate(over="ignore", under="ignore"):
        out = (s * b) * c
    if not np.isfinite(out).all() or np.any((out == 0) & (s > 0)):
        raise ValueError(f"the Hankel singular values (about {s[0]:.3e} * {b:.3e} * {c:.3e}) are not representable "
                         "in float64: rescale B and C")
    return out


def gramians_of_schur_form(sys: StateSpace) -> Gramians:
    """Gramians of a stable system whose A is already (quasi-)upper-triangular (a Schur factor).

    Continuous time: ``R P + P R^* = -B B^*`` and ``R^* Q + Q R = -C^* C`` by the recursive blocked
    solver :func:`dln_git.systems.sylvester.lyapunov_schur`, with no further Schur decomposition
    (``scipy.linalg.solve_continuous_lyapunov`` computes one per call and solves with level-2
    ``trsyl``: 8x slower at n = 1000, measured). Discrete time:
    scipy's solver. Stability is the caller's responsibility (:func:`split_stable` checks it).
    """
    R = sys.A
    if R.shape[0] == 0:
        z = np.zeros((0, 0))
        return Gramians(z, z.copy(), z.copy(), z.copy())
    F, G = sys.B @ sys.B.conj().T, sys.C.conj().T @ sys.C
    if sys.is_discrete:
        P, Q = _lyapunov(R, F, True), _lyapunov(R.conj().T, G, True)
    else:
        P = _hermitian(lyapunov_schur(R, -F))
        Q = _hermitian(lyapunov_schur(R, -G, adjoint=True))
    if not (np.isfinite(P).all() and np.isfinite(Q).all()):
        raise ValueError("the Lyapunov solvers returned non-finite Gramians (entries of the system too large?)")
    return Gramians(P, Q, gramian_factor(P), gramian_factor(Q))


def hankel_singular_values(sys, *, boundary_tol: float = BOUNDARY_TOL) -> np.ndarray:
    """Hankel singular values, descending: the singular values of ``L_o^* L_c`` (square-root method).

    Computed on the power-of-two normalised system (:func:`normalised`) and rescaled.
    """
    sys = as_state_space(sys)
    scaled, b, c = normalised(sys)
    g = gramians(scaled, boundary_tol=boundary_tol)
    if g.P.shape[0] == 0:
        return np.zeros(0)
    s = np.zeros(sys.n_states)
    if g.Lo.shape[1] and g.Lc.shape[1]:
        top = scipy.linalg.svd(g.Lo.conj().T @ g.Lc, compute_uv=False)
        s[: top.size] = top
    return scaled_hsv(s, b, c)
