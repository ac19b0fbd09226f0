"""Stable/unstable decomposition: ordered Schur form plus a Sylvester decoupling.

``A = Z R Z^*`` with the ordered Schur form (``scipy.linalg.schur(..., sort=...)``) puts the stable
eigenvalues first: ``R = [[R_11, R_12], [0, R_22]]`` (R_11 stable, R_22 unstable). With X solving
the Sylvester equation ``R_11 X - X R_22 + R_12 = 0`` and ``S = [[I, X], [0, I]]``,
``S^{-1} R S = diag(R_11, R_22)``, so the coordinates ``x~ = S^{-1} Z^* x`` decouple the system
into a stable and an anti-stable (or unstable) part whose transfer functions add up:
``G(s) = G_stable(s) + G_unstable(s)`` (D goes with the stable part). ``S^{-1} = [[I, -X], [0, I]]``
is exact, so no inverse is computed. The Sylvester equation is solvable because the two spectra
are disjoint; its conditioning (the separation of the spectra) shows in ``||X||``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .gramians import BOUNDARY_TOL, _boundary_distance
from .state_space import StateSpace

__all__ = ["StableSplit", "schur_eigenvalues", "split_stable"]


@dataclass(frozen=True)
class StableSplit:
    """``sys`` in the coordinates ``x~ = T x``: ``diag(stable, unstable)``, each part in (quasi-)triangular
    Schur form (``stable.A`` is the leading block of the ordered Schur factor).

    Attributes
    ----------
    stable, unstable : StateSpace
        The parts; ``unstable`` has ``D = 0`` and may have 0 states.
    T, T_inv : ndarray
        ``x~ = T x`` with ``T = S^{-1} Z^*`` and ``T_inv = Z S`` (``T @ T_inv = I`` exactly up to rounding).
    coupling_norm : float
        ``||X||_2`` of the Sylvester solution (large: nearly coupled spectra, ill-conditioned split).
    """

    stable: StateSpace
    unstable: StateSpace
    T: np.ndarray
    T_inv: np.ndarray
    coupling_norm: float

    @property
    def n_unstable(self) -> int:
        return self.unstable.n_states


def schur_eigenvalues(R: np.ndarray) -> np.ndarray:
    """Eigenvalues of a (quasi-)upper-triangular Schur factor, from its 1x1 and 2x2 diagonal blocks."""
    n = R.shape[0]
    if np.iscomplexobj(R):
        return np.diag(R).astype(complex)
    out, i = np.empty(n, complex), 0
    while i < n:
        if i + 1 < n and R[i + 1, i] != 0:
            out[i:i + 2] = np.linalg.eigvals(R[i:i + 2, i:i + 2])
            i += 2
        else:
            out[i] = R[i, i]
            i += 1
    return out


def split_stable(sys: StateSpace, boundary_tol: float = BOUNDARY_TOL) -> StableSplit:
    """Split ``sys`` into its stable and unstable parts (see the module docstring).

    Raises
    ------
    ValueError
        If a pole lies on the stability boundary (within ``boundary_tol``): such a pole belongs
        to neither part.
    """
    n = sys.n_states
    cplx = sys.is_complex
    if sys.is_discrete:
        sort = (lambda z: abs(z) < 1) if cplx else (lambda re, im: re * re + im * im < 1)
    else:
        sort = (lambda z: z.real < 0) if cplx else (lambda re, im: re < 0)
    if n == 0:
        R, Z, sdim = sys.A.copy(), np.eye(0), 0
    else:
        R, Z, sdim = scipy.linalg.schur(sys.A, output="complex" if cplx else "real", sort=sort)
    lam = schur_eigenvalues(R)
    dist = _boundary_distance(sys, lam)
    on = np.abs(dist) <= boundary_tol
    if on.any():
        raise ValueError(
            f"{int(on.sum())} pole(s) lie on the stability boundary (within boundary_tol = {boundary_tol:g}), "
            f"e.g. {lam[on][0]:.6g}: they belong neither to the stable nor to the unstable part"
        )
    n_stable = int(np.sum(dist > 0))
    if sdim != n_stable:  # rounding moved a pole across: refuse rather than mix the parts
        raise ValueError(f"the ordered Schur form found {sdim} stable poles, the eigenvalues {n_stable}; "
                         "poles too close to the boundary for a reliable split (raise boundary_tol)")
    k = n_stable
    R11, R12, R22 = R[:k, :k], R[:k, k:], R[k:, k:]
    X = scipy.linalg.solve_sylvester(R11, -R22, -R12) if k else np.zeros((0, n - k), R.dtype)
    S_inv = np.eye(n, dtype=R.dtype)
    S_inv[:k, k:] = -X
    S = np.eye(n, dtype=R.dtype)
    S[:k, k:] = X
    T = S_inv @ Z.conj().T
    T_inv = Z @ S
    Bt, Ct = T @ sys.B, sys.C @ T_inv
    stable = StateSpace(R11, Bt[:k], Ct[:, :k], sys.D, sys.dt)
    unstable = StateSpace(R22, Bt[k:], Ct[:, k:], np.zeros_like(sys.D), sys.dt)
    norm_x = float(np.linalg.norm(X, 2)) if X.size else 0.0
    return StableSplit(stable, unstable, T, T_inv, norm_x)
