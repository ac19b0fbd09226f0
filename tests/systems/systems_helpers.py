"""Independent references for the systems tests: dense inverses, Lyapunov residuals, simulations."""

import numpy as np

from dln_git.systems import StateSpace, random_state_space


def dense_transfer(sys: StateSpace, s) -> np.ndarray:
    """``C (sI - A)^{-1} B + D`` with an explicit inverse (a reference, not the library's path)."""
    n = sys.n_states
    return np.array([sys.C @ np.linalg.inv(z * np.eye(n) - sys.A) @ sys.B + sys.D for z in np.atleast_1d(s)])


def lyapunov_residual(sys: StateSpace, P, Q) -> float:
    """Relative residual of the two Lyapunov equations at the given P, Q (no solver involved)."""
    A, B, C = sys.A, sys.B, sys.C
    Ah = A.conj().T
    if sys.is_discrete:
        rp = A @ P @ Ah - P + B @ B.conj().T
        rq = Ah @ Q @ A - Q + C.conj().T @ C
    else:
        rp = A @ P + P @ Ah + B @ B.conj().T
        rq = Ah @ Q + Q @ A + C.conj().T @ C
    scale = (np.linalg.norm(A) + 1) ** 2 * max(np.linalg.norm(P), np.linalg.norm(Q))
    return float(max(np.linalg.norm(rp), np.linalg.norm(rq)) / scale)


def sample_points(sys: StateSpace, k: int = 9) -> np.ndarray:
    if sys.is_discrete:
        return 1.3 * np.exp(1j * np.linspace(0.1, 3.0, k))  # outside the unit circle: never a pole
    return 1j * np.logspace(-2, 2, k) + 0.01


def minimal_system(rng, n, *, dt=None, complex=False, n_unstable=0):
    """A random system with m = p = max(n // 2, 1): numerically minimal for these sizes."""
    m = max(n // 2, 1)
    return random_state_space(n, m, m, rng, dt=dt, complex=complex, n_unstable=n_unstable)
