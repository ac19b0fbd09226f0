"""``StateSpace``: a linear time-invariant system ``(A, B, C, D)``, continuous or discrete time.

Continuous time (``dt=None``): ``x' = A x + B u``, ``y = C x + D u``, transfer function
``G(s) = C (s I - A)^{-1} B + D``. Discrete time (``dt > 0``): ``x_{k+1} = A x_k + B u_k`` with
the same output equation and ``G(z) = C (z I - A)^{-1} B + D``.

The group ``GL(n)`` acts on realizations by ``T.(A, B, C, D) = (T A T^{-1}, T B, C T^{-1}, D)``
(docs/math section 5, Kalman realization), keeping the transfer function; it is the analogue of
the gauge group acting on the weights of a deep linear network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.options import Rule, check_options

__all__ = ["StateSpace", "as_state_space"]

_DT_RULE = Rule.positive("the sampling time: None for continuous time, > 0 for discrete time", allow_none=True)


def _matrix(value, name: str, shape: tuple[int | None, int | None], what: str) -> np.ndarray:
    """A finite 2-D float64/complex128 copy of ``value`` with the expected shape (None: any)."""
    try:
        a = np.array(value)  # a copy: the system never shares memory with its inputs
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a rectangular array: {exc}") from None
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array ({what}), got shape {a.shape}")
    for axis, (got, want) in enumerate(zip(a.shape, shape, strict=True)):
        if want is not None and got != want:
            raise ValueError(f"{name} must have shape {_fmt(shape)} ({what}), got {a.shape} (axis {axis} differs)")
    a = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    a.setflags(write=False)
    return a


def _fmt(shape) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"


@dataclass(frozen=True, eq=False)
class StateSpace:
    """A realization ``(A, B, C, D)`` with ``n`` states, ``m`` inputs and ``p`` outputs.

    Parameters
    ----------
    A : (n, n) array
    B : (n, m) array
    C : (p, n) array
    D : (p, m) array, optional
        Default zero.
    dt : float or None
        ``None`` for continuous time, a sampling time ``> 0`` for discrete time.

    The arrays are stored as read-only float64 or complex128 copies; ``n = 0`` (a static gain
    ``D``) is allowed, with ``A`` of shape ``(0, 0)``.

    Raises
    ------
    ValueError
        Naming the matrix and the expected shape on mismatched shapes, or on NaN/inf entries;
        naming ``dt`` when it is not None or > 0.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray | None = None
    dt: float | None = None

    def __post_init__(self):
        (dt,) = check_options(dt=(self.dt, _DT_RULE))
        A = _matrix(self.A, "A", (None, None), "n x n: the state matrix")
        n = A.shape[0]
        if A.shape[1] != n:
            raise ValueError(f"A must be square (n x n: the state matrix), got shape {A.shape}")
        B = _matrix(self.B, "B", (n, None), "n x m: states x inputs")
        C = _matrix(self.C, "C", (None, n), "p x n: outputs x states")
        m, p = B.shape[1], C.shape[0]
        D = np.zeros((p, m)) if self.D is None else self.D
        D = _matrix(D, "D", (p, m), "p x m: outputs x inputs")
        for name, value in (("A", A), ("B", B), ("C", C), ("D", D), ("dt", dt)):
            object.__setattr__(self, name, value)

    # --- sizes and kind ---------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.C.shape[0]

    @property
    def is_discrete(self) -> bool:
        return self.dt is not None

    @property
    def is_complex(self) -> bool:
        return any(np.iscomplexobj(M) for M in (self.A, self.B, self.C, self.D))

    def __repr__(self) -> str:
        kind = f"discrete, dt={self.dt:g}" if self.is_discrete else "continuous"
        return f"StateSpace(n={self.n_states}, m={self.n_inputs}, p={self.n_outputs}, {kind})"

    def with_matrices(self, A, B, C, D=None) -> StateSpace:
        """A system of the same time domain with other matrices (``D`` kept when None)."""
        return StateSpace(A, B, C, self.D if D is None else D, self.dt)

    # --- the GL(n) action -------------------------------------------------------------------
    def transform(self, T, T_inv=None) -> StateSpace:
        """``(T A T^{-1}, T B, C T^{-1}, D)``; the transfer function is unchanged.

        ``T^{-1}`` is applied by an LU solve with T (never formed) unless ``T_inv`` is given.
        A (numerically) singular T raises ``ValueError``.
        """
        n = self.n_states
        T = _matrix(T, "T", (n, n), "n x n: the change of state coordinates")
        TA, TB = T @ self.A, T @ self.B
        if T_inv is not None:
            Ti = _matrix(T_inv, "T_inv", (n, n), "n x n: the inverse coordinate change")
            return self.with_matrices(TA @ Ti, TB, self.C @ Ti)
        if n == 0:
            return self.with_matrices(self.A, self.B, self.C)
        rcond = 1.0 / np.linalg.cond(T, 1)
        if not rcond > np.finfo(float).eps:
            raise ValueError(f"T is singular to working precision (reciprocal condition number {rcond:.1e})")
        lu = scipy.linalg.lu_factor(T, check_finite=False)
        # M T^{-1} = (T^{-T} M^T)^T: a transposed (not conjugated) solve with T's LU factors
        right = lambda M: scipy.linalg.lu_solve(lu, M.T, trans=1, check_finite=False).T  # noqa: E731
        return self.with_matrices(right(TA), TB, right(self.C))

    # --- poles and stability --------------------------------------------------------------------
    def poles(self) -> np.ndarray:
        """Eigenvalues of A."""
        return np.linalg.eigvals(self.A) if self.n_states else np.zeros(0, complex)

    def stability_margin(self) -> float:
        """``-max Re(lambda)`` (continuous) or ``1 - max |lambda|`` (discrete); > 0 means stable."""
        lam = self.poles()
        if lam.size == 0:
            return np.inf
        return float(1.0 - np.max(np.abs(lam))) if self.is_discrete else float(-np.max(lam.real))

    def is_stable(self) -> bool:
        """Asymptotic stability: every pole has ``Re < 0`` (continuous) or ``|z| < 1`` (discrete)."""
        return self.stability_margin() > 0

    # --- transfer function and impulse response --------------------------------------------------
    def transfer_function(self, points) -> np.ndarray:
        """``G(s_k) = C (s_k I - A)^{-1} B + D`` at the given complex points, shape ``(K, p, m)``.

        One complex Schur form ``A = Z R Z^*`` (R upper triangular) is computed, then each point
        costs a triangular solve ``(s I - R) Y = Z^* B``: no inverse is formed and the cost is
        ``O(n^3 + K n^2 m)``. A point at a pole raises ``ValueError``.
        """
        pts = np.atleast_1d(np.asarray(points, dtype=complex))
        if pts.ndim != 1 or not np.isfinite(pts).all():
            raise ValueError("points must be a 1-D array of finite complex numbers")
        return _transfer_at(self, pts)

    def frequency_response(self, omega) -> np.ndarray:
        """``G`` on the imaginary axis ``j omega`` (continuous) or on ``e^{j omega dt}`` (discrete)."""
        w = np.atleast_1d(np.asarray(omega, dtype=float))
        pts = np.exp(1j * w * self.dt) if self.is_discrete else 1j * w
        return self.transfer_function(pts)

    def markov_parameters(self, count: int) -> np.ndarray:
        """``(D, C B, C A B, ..., C A^{count-2} B)``, shape ``(count, p, m)``.

        In discrete time these are the impulse response ``h_0, h_1, ...``; in continuous time
        ``C A^k B`` are the coefficients of ``G(s) = D + sum_k C A^k B s^{-k-1}``.
        """
        (count,) = check_options(count=(count, Rule.count(1, "the number of Markov parameters")))
        out = [self.D.copy()]
        V = self.B
        for _ in range(count - 1):
            out.append(self.C @ V)
            V = self.A @ V
        return np.array(out)


def as_state_space(sys) -> StateSpace:
    """``sys`` itself if it is a :class:`StateSpace`, else ``StateSpace(*sys)`` for a tuple."""
    if isinstance(sys, StateSpace):
        return sys
    if isinstance(sys, (tuple, list)) and 3 <= len(sys) <= 5:
        return StateSpace(*sys)
    raise TypeError(f"sys must be a StateSpace or a tuple (A, B, C[, D[, dt]]), got {type(sys).__name__}")


def _transfer_at(sys: StateSpace, pts: np.ndarray) -> np.ndarray:
    n, p, m = sys.n_states, sys.n_outputs, sys.n_inputs
    out = np.empty((pts.size, p, m), dtype=complex)
    if n == 0:
        out[:] = sys.D
        return out
    R, Z = scipy.linalg.schur(sys.A.astype(complex), output="complex")
    ZB, CZ = Z.conj().T @ sys.B, sys.C @ Z
    diag = np.diag(R)
    scale = max(np.max(np.abs(diag)), np.linalg.norm(R, 1), np.finfo(float).tiny)
    for k, s in enumerate(pts):
        M = -R
        M[np.diag_indices(n)] = s - diag
        if np.min(np.abs(s - diag)) <= 1e2 * np.finfo(float).eps * max(scale, abs(s)):
            raise ValueError(f"the transfer function is evaluated at a pole: s = {s:.6g}")
        Y = scipy.linalg.solve_triangular(M, ZB, check_finite=False)
        out[k] = CZ @ Y + sys.D
    return out
