"""A linearly implicit (Rosenbrock) Lie-group integrator for the stiff squared-moment-map flow.

The moment flow ``dW/dt = -A_W(mu(W))`` (docs/math section 3) is stiff: near the balanced point its
linearisation ``d mu/dt = -2 Herm(A_W^* A_W mu)`` has rates spread like ``s_k(X)^{2/N}``, so an
explicit scheme is held to steps ``h <~ 3 / lambda_max`` for a run of length ``~ 25 / lambda_min``.
Here the flow is written in the Lie algebra of the gauge group, ``W(t) = exp(Theta(t)).W_n`` with

    ``dTheta/dt = f(Theta) = dexp^{-1}_Theta(-mu(exp(Theta).W_n))``,  ``Theta(0) = 0``

(Munthe-Kaas), and one step of a four-stage Rosenbrock method of order 4 (Shampine's
coefficients, embedded order 3 for the error estimate; A-stable, with stability function
``R(-inf) = 1/3``) is applied to it. Every update is
a gauge transformation ``W_{n+1} = exp(Theta_1).W_n``, so X is kept to rounding error.

The Jacobian of f at ``Theta = 0`` is exact and applied matrix-free [derived, docs/math section 3:
``d mu = 2 Herm(A_W^* dW)`` and ``dexp^{-1}_Theta(F) = F - [Theta, F]/2 + ...``]:

    ``J v = -2 Herm(A_W^* A_W v) + [v, mu(W_n)] / 2``.

The stage systems ``(I / (gamma h) - J) g = r`` are solved by GMRES on the real coordinates of the
Lie algebra, preconditioned by the exact inverse of the layer-diagonal part: on Hermitian ``v_i``
the diagonal block of ``-2 Herm(A^* A)`` is the Lyapunov operator ``v -> T_i v + v T_i``,
``T_i = W_i W_i^* + W_{i+1}^* W_{i+1}``, inverted in the eigenbasis of ``T_i``
(``v~_jk -> v~_jk / (sigma + t_j + t_k)``); skew-Hermitian parts are divided by ``sigma``.
The step size is limited by accuracy alone, not by ``lambda_max``: the step count does not grow
with ``s_max / s_min`` the way the explicit scheme's does.

Shampine, "Implementation of Rosenbrock methods", ACM TOMS 8 (1982); Hairer & Wanner, *Solving
Ordinary Differential Equations II*, section IV.7; Munthe-Kaas, Appl. Numer. Math. 29 (1999).
"""

from __future__ import annotations

import numpy as np

from ..core.gauge import _act_pairs, _action, _action_adjoint
from ..core.linalg import herm, norm
from ..core.moment_map import _moment_map
from .integrators import StepOutcome, _bounded, _TooLarge
from .lie_group import act_exp, dexpinv, expm_stack, lincomb

__all__ = ["ROSENBROCK_ORDER", "MomentRosenbrockStepper", "gmres"]

#: Order of the method (the embedded solution has order 3, so the error estimate is O(h^4)).
ROSENBROCK_ORDER = 4

# Shampine's order-4 coefficients in the form (I/(gamma h) - J) g_i = f(sum_j a_ij g_j) + sum_j c_ij g_j / h
_GAMMA = 0.5
_A = ((), (2.0,), (48 / 25, 6 / 25), (48 / 25, 6 / 25))
_C = ((), (-8.0,), (372 / 25, 12 / 5), (-112 / 125, -54 / 125, -2 / 5))
_B = (19 / 9, 1 / 2, 25 / 108, 125 / 108)
_E = (17 / 54, 7 / 36, 0.0, 125 / 108)


def gmres(apply, b: np.ndarray, precondition, *, rtol: float, maxiter: int = 80,
          x0: np.ndarray | None = None) -> tuple[np.ndarray, int, float]:
    """Right-preconditioned GMRES for ``A x = b`` (real vectors): ``(x, iterations, relative residual)``.

    Arnoldi with modified Gram–Schmidt on ``A M^{-1}`` and Givens rotations for the least-squares
    problem, stopped once ``||b - A x|| <= rtol ||b||`` (no restart; ``maxiter`` bounds the basis).
    Saad & Schultz, SIAM J. Sci. Stat. Comput. 7 (1986).
    """
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return np.zeros_like(b), 0, 0.0
    r0 = b if x0 is None else b - apply(x0)
    beta = float(np.linalg.norm(r0))
    if beta <= rtol * bnorm:
        return (np.zeros_like(b) if x0 is None else x0), 0, beta / bnorm
    V = [r0 / beta]
    Z = []
    H = np.zeros((maxiter + 1, maxiter))
    cs, sn = np.zeros(maxiter), np.zeros(maxiter)
    g = np.zeros(maxiter + 1)
    g[0] = beta
    k = 0
    for k in range(1, maxiter + 1):
        j = k - 1
        z = precondition(V[-1])
        Z.append(z)
        w = apply(z)
        for i, v in enumerate(V):
            H[i, j] = float(v @ w)
            w = w - H[i, j] * v
        h_next = float(np.linalg.norm(w))
        for i in range(j):  # previous rotations
            H[i, j], H[i + 1, j] = cs[i] * H[i, j] + sn[i] * H[i + 1, j], -sn[i] * H[i, j] + cs[i] * H[i + 1, j]
        rho = float(np.hypot(H[j, j], h_next))
        cs[j], sn[j] = (1.0, 0.0) if rho == 0 else (H[j, j] / rho, h_next / rho)
        H[j, j] = rho
        g[j + 1] = -sn[j] * g[j]
        g[j] = cs[j] * g[j]
        if abs(g[j + 1]) <= rtol * bnorm or h_next <= 1e-14 * beta:
            break
        V.append(w / h_next)
    y = np.zeros(k)
    for i in range(k - 1, -1, -1):  # back substitution with the rotated (upper triangular) H
        y[i] = (g[i] - H[i, i + 1:k] @ y[i + 1:k]) / H[i, i] if H[i, i] != 0 else 0.0
    x = sum(c * z for c, z in zip(y, Z, strict=True))
    if x0 is not None:
        x = x + x0
    return x, k, abs(g[k]) / bnorm


class _RealCoordinates:
    """Lie algebra tuples <-> real vectors (real and imaginary parts for complex weights)."""

    def __init__(self, shapes, complex_: bool):
        self.shapes = shapes
        self.complex = complex_
        self.sizes = [r * c for r, c in shapes]
        self.n = sum(self.sizes)

    def pack(self, mats) -> np.ndarray:
        flat = np.concatenate([np.ravel(m) for m in mats])
        return np.concatenate([flat.real, flat.imag]) if self.complex else flat.real.copy()

    def unpack(self, v: np.ndarray):
        flat = v[: self.n] + 1j * v[self.n:] if self.complex else v
        out, start = [], 0
        for (r, c), n in zip(self.shapes, self.sizes, strict=True):
            out.append(flat[start:start + n].reshape(r, c))
            start += n
        return tuple(out)


class _StageSystem:
    """``M v = sigma v - J v`` at ``W_n``, solved in the eigenframes of ``T_i`` (see the module docstring).

    With ``T_i = U_i diag(t_i) U_i^*`` the unitary change of coordinates ``v_i -> U_i^* v_i U_i``
    turns W into ``(U_i^* W_i U_{i-1})`` and mu into ``(U_i^* mu_i U_i)`` (the same formulas apply)
    and the layer-diagonal preconditioner into an entrywise division.
    """

    def __init__(self, W, mu):
        N = len(W)
        self.U, denominators = [], []
        for i in range(N - 1):
            T = W[i] @ herm(W[i]) + herm(W[i + 1]) @ W[i + 1]
            t, U = np.linalg.eigh(0.5 * (T + herm(T)))
            self.U.append(U)
            denominators.append(t[:, None] + t[None, :])
        self.denominators = denominators
        Wf = []
        for i in range(N):
            M = W[i]
            if i < N - 1:
                M = herm(self.U[i]) @ M
            if i > 0:
                M = M @ self.U[i - 1]
            Wf.append(M)
        self.W = tuple(Wf)
        self.mu = self._in_frames(mu)
        self.coords = _RealCoordinates([m.shape for m in mu], any(np.iscomplexobj(w) for w in W))
        self.sigma = 1.0
        self.matvecs = 0

    def _in_frames(self, v):
        return tuple(herm(U) @ x @ U for U, x in zip(self.U, v, strict=True))

    def _out_of_frames(self, v):
        return tuple(U @ x @ herm(U) for U, x in zip(self.U, v, strict=True))

    def minus_jacobian(self, v):
        """``-J v = 2 Herm(A^* A v) - [v, mu] / 2`` (in the frames)."""
        G = _action_adjoint(self.W, _action(self.W, v))
        return tuple(g + herm(g) - 0.5 * (x @ m - m @ x) for g, x, m in zip(G, v, self.mu, strict=True))

    def _apply(self, x: np.ndarray) -> np.ndarray:
        self.matvecs += 1
        return self.sigma * x + self.coords.pack(self.minus_jacobian(self.coords.unpack(x)))

    def _precondition(self, x: np.ndarray) -> np.ndarray:
        out = []
        for r, D in zip(self.coords.unpack(x), self.denominators, strict=True):
            h = 0.5 * (r + herm(r))
            out.append(h / (self.sigma + D) + (r - h) / self.sigma)
        return self.coords.pack(out)

    def solve(self, rhs, rtol: float):
        b = self.coords.pack(self._in_frames(rhs))
        x, it, res = gmres(self._apply, b, self._precondition, rtol=rtol)
        return self._out_of_frames(self.coords.unpack(x)), it, res


def _stack_h(A: np.ndarray) -> np.ndarray:
    """Conjugate transpose of each matrix of a stack ``(k, d, d)``."""
    At = np.swapaxes(A, -1, -2)
    return At.conj() if np.iscomplexobj(A) else At


class _StackedStageSystem(_StageSystem):
    """:class:`_StageSystem` for equal widths ``(d, ..., d)``: every layer product batched over a stack.

    Same operator and preconditioner, applied with a few stacked matrix products instead of a
    loop over the layers (the Krylov vector is the ravel of the ``(N - 1, d, d)`` stack).
    """

    def __init__(self, W, mu):
        super().__init__(W, mu)
        self.Ws = np.stack(self.W)
        self.WsH = _stack_h(self.Ws)
        self.mus = np.stack(self.mu)
        self.Us = np.stack(self.U)
        self.Ds = np.stack(self.denominators)
        # coupling of hidden layers i-1 and i through W_i (hidden i = 1..N-2), entrywise in the frames
        diag = np.diagonal(self.Ws[1:-1], axis1=-2, axis2=-1)
        self.coupling = -2.0 * diag[:, :, None] * diag[:, None, :].conj()
        self.stack_shape = self.mus.shape
        self.n = self.mus.size

    def _to_stack(self, x: np.ndarray) -> np.ndarray:
        flat = x[: self.n] + 1j * x[self.n:] if self.coords.complex else x
        return flat.reshape(self.stack_shape)

    def _to_vector(self, S: np.ndarray) -> np.ndarray:
        flat = S.reshape(-1)
        return np.concatenate([flat.real, flat.imag]) if self.coords.complex else flat.real.copy()

    def minus_jacobian_stack(self, v: np.ndarray) -> np.ndarray:
        """``-J v`` on a stack ``v`` of shape ``(N - 1, d, d)`` (in the frames)."""
        Ws, WsH = self.Ws, self.WsH
        Av = np.zeros_like(Ws, dtype=np.result_type(Ws, v))
        Av[:-1] += v @ Ws[:-1]  # xi_i W_i
        Av[1:] -= Ws[1:] @ v  # - W_i xi_{i-1}
        G = Av[:-1] @ WsH[:-1] - WsH[1:] @ Av[1:]
        return G + _stack_h(G) - 0.5 * (v @ self.mus - self.mus @ v)

    def _apply(self, x: np.ndarray) -> np.ndarray:
        self.matvecs += 1
        return self.sigma * x + self._to_vector(self.minus_jacobian_stack(self._to_stack(x)))

    def _precondition(self, x: np.ndarray) -> np.ndarray:
        """Skew parts divided by sigma; Hermitian parts through the layer-tridiagonal model.

        With ``Ŵ_i`` replaced by its diagonal ``w_i`` (exact at balanced points with distinct
        singular values, where the frames diagonalise every layer), ``sigma - J`` on Hermitian
        stacks is, for each entry (j, k), tridiagonal in the layer index: diagonal
        ``sigma + t_ij + t_ik``, below it ``-2 w_ij conj(w_ik)`` (from ``-2 W_i v_{i-1} W_i^*``),
        above it the conjugate of the next one (from ``-2 W_{i+1}^* v_{i+1} W_{i+1}``).
        Solved by the Thomas algorithm over all entries at once; the diagonal dominates
        (``t_ij >= w_ij^2 + w_{i+1,j}^2``), so no pivoting is needed.
        """
        r = self._to_stack(x)
        h = 0.5 * (r + _stack_h(r))
        out = (r - h) / self.sigma
        a = self.sigma + self.Ds
        below = self.coupling  # below[i - 1]: coefficient of v_{i-1} in row i
        n = a.shape[0]
        c_prime, d_prime = [], []
        for i in range(n):
            diag_i, rhs_i = a[i], h[i]
            if i > 0:
                diag_i = diag_i - below[i - 1] * c_prime[-1]
                rhs_i = rhs_i - below[i - 1] * d_prime[-1]
            c_prime.append(below[i].conj() / diag_i if i < n - 1 else None)
            d_prime.append(rhs_i / diag_i)
        sol = [None] * n
        sol[-1] = d_prime[-1]
        for i in range(n - 2, -1, -1):
            sol[i] = d_prime[i] - c_prime[i] * sol[i + 1]
        return self._to_vector(out + np.stack(sol))

    def solve(self, rhs, rtol: float):
        b = self._to_vector(_stack_h(self.Us) @ np.stack(rhs) @ self.Us)
        x, it, res = gmres(self._apply, b, self._precondition, rtol=rtol)
        out = self.Us @ self._to_stack(x) @ _stack_h(self.Us)
        return tuple(out), it, res


def stage_system(W, mu) -> _StageSystem:
    """The stage system at W (the stacked variant when every layer is d x d, d the same)."""
    shape = W[0].shape
    if len(W) >= 2 and shape[0] == shape[1] and all(w.shape == shape for w in W):
        return _StackedStageSystem(W, mu)
    return _StageSystem(W, mu)


def act_exp_fast(W, theta) -> tuple[np.ndarray, ...]:
    """``exp(theta).W`` as :func:`dln_git.flows.lie_group.act_exp`, batched when all ``theta_i`` share a shape.

    The inverse factors are the computed inverses of the exponentials (so X telescopes to rounding).
    """
    if len(theta) < 2 or any(t.shape != theta[0].shape for t in theta):
        return act_exp(W, theta)
    E = expm_stack(np.stack(theta))
    Einv = np.linalg.inv(E)
    return _act_pairs(list(zip(E, Einv, strict=True)), W)


class MomentRosenbrockStepper:
    """One Rosenbrock–Munthe-Kaas step of the moment flow (see the module docstring).

    ``field(W) = -mu(W)`` is the generator; ``step(W, F, h)`` returns a :class:`StepOutcome`
    whose error is the weighted local error estimate ``||A_W(sum_i e_i g_i)|| / (atol + rtol
    ||W_{n+1}||)`` (accept if <= 1).

    Stage solves stop at the residual ``0.05 (atol + rtol ||W||) / (2 gamma h ||W||)`` (taken
    relative to the right-hand side, within ``[solve_rtol, 1e-2]``; ``solve_rtol`` defaults to
    ``max(1e-13, rtol / 10)``): with ``||(sigma - J)^{-1}|| <~ gamma h`` (``sigma = 1 / (gamma
    h)``, J dissipative near balance) and ``||A_W|| <= 2 ||W||``, the weight-space error of a
    stage is then a twentieth of the local error tolerance.
    """

    order = ROSENBROCK_ORDER

    def __init__(self, rtol: float, atol: float, solve_rtol: float | None = None):
        self.rtol = rtol
        self.atol = atol
        self.solve_rtol = max(1e-13, 0.1 * rtol) if solve_rtol is None else solve_rtol
        self.evaluations = 0
        self.solves = 0
        self.krylov_iterations = 0
        self.failures: list[str] = []

    def field(self, W):
        self.evaluations += 1
        return tuple(-m for m in _moment_map(W))

    def speed(self, W, F) -> float:
        return norm(_action(W, F))

    def _stage_field(self, W, theta):
        return dexpinv(theta, self.field(act_exp_fast(W, _bounded(theta))))

    def step(self, W, F1, h: float) -> StepOutcome:
        try:
            with np.errstate(over="raise", invalid="raise"):
                return self._step(W, F1, h)
        except (np.linalg.LinAlgError, FloatingPointError, _TooLarge):
            return StepOutcome(W, F1, float("inf"))

    def _step(self, W, F1, h: float) -> StepOutcome:
        system = stage_system(W, tuple(-f for f in F1))
        system.sigma = 1.0 / (_GAMMA * h)
        g: list = []
        f_stage = F1
        worst = 0.0
        size = norm(W)
        allowed = 0.05 * (self.atol + self.rtol * size) / (2.0 * _GAMMA * h * size)
        for i in range(4):
            if i in (1, 2):  # stage 4 reuses the field of stage 3 (a_4j = a_3j)
                f_stage = self._stage_field(W, lincomb(_A[i], g))
            rhs = f_stage if i == 0 else lincomb((1.0, *(c / h for c in _C[i])), (f_stage, *g))
            target = min(1e-2, max(self.solve_rtol, allowed / max(norm(rhs), 1e-300)))
            gi, it, res = system.solve(rhs, target)
            self.solves += 1
            self.krylov_iterations += it
            worst = max(worst, res / target)
            g.append(gi)
        if worst > 10:
            return StepOutcome(W, F1, float("inf"))
        theta = _bounded(lincomb(_B, g))
        W_new = act_exp_fast(W, theta)
        err = norm(_action(W, lincomb(_E, g)))
        F_new = self.field(W_new)
        return StepOutcome(W_new, F_new, err / (self.atol + self.rtol * norm(W_new)))
