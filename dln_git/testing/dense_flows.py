"""Dense reference integrators for the balancing flows on fibers (docs/math section 3).

Small-size, deliberately naive references: the weights are flattened with
:func:`dln_git.testing.dense.flatten` (row-major) and handed to :func:`scipy.integrate.solve_ivp`,
and every evaluation of the vector field forms the relevant dense matrix (Kronecker projector or
action matrix) from scratch. They serve

1. as an independent reference for the matrix-free (Lie-group) integrators in ``dln_git.flows``;
2. as the benchmark baseline "scipy ``solve_ivp`` on the flattened L2 flow with a dense projection".

Like :mod:`dln_git.testing.dense`, this module imports nothing from ``dln_git.core`` or
``dln_git.flows``. A generic ODE solver on the flattened weights does not keep the end-to-end
product ``X = W_N ... W_1`` fixed exactly: it drifts at the level of the integration tolerances.

Flows
-----
With ``A_W(xi)_i = xi_i W_i - W_i xi_{i-1}`` the infinitesimal gauge action, ``A_W^*`` its adjoint,
``mu(W) = A_W^*(W)`` the moment map (``mu_i = W_i W_i^* - W_{i+1}^* W_{i+1}``),
``Pi_V`` the orthogonal projector onto ``ker dphi_W`` and ``P_W`` the one onto ``range A_W``:

* fiber L2 flow      ``dW/dt = -Pi_V(W)``   (gradient flow of ``R = 1/2 sum ||W_i||^2`` on the fiber);
* orbit L2 flow      ``dW/dt = -P_W(W)``    (Kempf-Ness flow of the orbit; equal to the fiber flow
  off funnel layers);
* moment flow        ``dW/dt = -A_W(mu(W))`` (gradient flow of ``1/4 ||mu||^2``);
* finite-time form   ``dW/ds = -A_W(xi)``, ``xi = (A_W^* A_W)^+ mu(W(0))``, ``s in [0, 1/2]``, which
  is the orbit L2 flow reparametrised by ``s = (1 - exp(-2t)) / 2``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from dln_git.testing import dense

__all__ = [
    "DenseFlow",
    "dense_l2_finite_time",
    "dense_l2_flow",
    "dense_moment_flow",
]

_SPACES = ("fiber", "orbit")


@dataclass(frozen=True)
class DenseFlow:
    """Trajectory returned by the dense reference flows.

    Attributes
    ----------
    times : ndarray
        The times (``t`` or ``s``) at which the weights are reported; equal to the requested
        evaluation times when ``success`` is true (possibly fewer if the solver stopped early).
    weights : list of tuple of ndarray
        ``weights[k]`` is ``(W_1, ..., W_N)`` at ``times[k]``.
    nfev : int
        Number of vector-field evaluations made by ``solve_ivp`` (each forms a dense matrix).
    success : bool
        ``solve_ivp``'s success flag.
    message : str
        ``solve_ivp``'s message.
    """

    times: np.ndarray
    weights: list[tuple[np.ndarray, ...]]
    nfev: int
    success: bool
    message: str


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def _check_weights(W: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Return ``W`` as a tuple of finite 2-D arrays of a common float/complex dtype."""
    if not isinstance(W, Sequence):
        raise ValueError("W must be a non-empty sequence of 2-D arrays (W_1, ..., W_N)")
    W, _ = dense._check_weights(W)  # non-empty, 2-D, chained shapes
    for i, Wi in enumerate(W, start=1):
        if not np.issubdtype(Wi.dtype, np.number) or np.issubdtype(Wi.dtype, np.bool_):
            raise ValueError(f"W_{i} must be numeric, got dtype {Wi.dtype}")
        if not np.all(np.isfinite(Wi)):
            raise ValueError(f"W_{i} contains non-finite entries")
    dtype = np.result_type(*W, np.float64)
    return tuple(Wi.astype(dtype, copy=True) for Wi in W)


def _check_times(t: np.ndarray, name: str, *, start_at_zero: bool, upper: float | None = None) -> np.ndarray:
    """Validate a 1-D, finite, strictly increasing array of evaluation times."""
    t = np.asarray(t)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.number) or np.iscomplexobj(t):
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    t = t.astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} contains non-finite values")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    if start_at_zero and t[0] != 0.0:
        raise ValueError(f"{name} must start at 0, got {name}[0] = {t[0]}")
    if t[0] < 0.0:
        raise ValueError(f"{name} must be >= 0, got {name}[0] = {t[0]}")
    if upper is not None and t[-1] > upper:
        raise ValueError(f"{name} must lie in [0, {upper}], got {name}[-1] = {t[-1]}")
    return t


def _check_rank_rtol(rank_rtol: float) -> float:
    rank_rtol = float(rank_rtol)
    if not (np.isfinite(rank_rtol) and 0.0 < rank_rtol < 1.0):
        raise ValueError(f"rank_rtol must lie in (0, 1), got {rank_rtol}")
    return rank_rtol


def _shapes(W: tuple[np.ndarray, ...]) -> tuple[tuple[int, int], ...]:
    return tuple(Wi.shape for Wi in W)


def _integrate(
    rhs: Callable[[float, np.ndarray], np.ndarray],
    W0: tuple[np.ndarray, ...],
    t_eval: np.ndarray,
    method: str,
    rtol: float,
    atol: float,
) -> DenseFlow:
    """Integrate ``dy/dt = rhs(t, y)``, ``y = flatten(W)``, from 0 to ``t_eval[-1]``."""
    shapes = _shapes(W0)
    y0 = dense.flatten(W0)
    if t_eval[-1] == 0.0:  # only t = 0 requested: nothing to integrate (solve_ivp returns no point)
        return DenseFlow(
            times=t_eval.copy(),
            weights=[tuple(Wi.copy() for Wi in W0)],
            nfev=0,
            success=True,
            message="only the initial time was requested",
        )
    sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol)
    weights = [tuple(M.copy() for M in dense.unflatten(sol.y[:, k], shapes)) for k in range(sol.t.size)]
    return DenseFlow(
        times=np.asarray(sol.t),
        weights=weights,
        nfev=int(sol.nfev),
        success=bool(sol.success),
        message=str(sol.message),
    )


# ---------------------------------------------------------------------------------------------
# Flows
# ---------------------------------------------------------------------------------------------


def dense_l2_flow(
    W: Sequence[np.ndarray],
    t_eval: np.ndarray,
    *,
    space: str = "fiber",
    method: str = "RK45",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    rank_rtol: float = 1e-10,
) -> DenseFlow:
    r"""L2 balancing flow, integrated densely with ``scipy.integrate.solve_ivp``.

    .. math::

        \frac{dW}{dt} = -\Pi_V(W) \quad (\text{space="fiber"}), \qquad
        \frac{dW}{dt} = -P_W(W) \quad (\text{space="orbit"}),

    where ``Pi_V = I - J^+ J`` projects onto ``ker dphi_W`` (``J`` the Jacobian of
    ``phi(W) = W_N ... W_1``) and ``P_W = A (A^* A)^+ A^*`` projects onto ``range A_W``; both are
    formed as dense matrices (:func:`dense.dense_projection_vertical`,
    :func:`dense.dense_projection_orbit`) at every evaluation. The fiber flow is the gradient flow
    of ``R(W) = 1/2 sum ||W_i||_F^2`` restricted to the fiber ``{phi = X}``; the orbit flow is its
    restriction to the gauge orbit (they coincide off funnel layers). For both,
    ``mu(W(t)) = exp(-2t) mu(W(0))``.

    Parameters
    ----------
    W : sequence of ndarray
        Initial weights ``(W_1, ..., W_N)``, ``W_i`` of shape ``(d_i, d_{i-1})``, real or complex.
    t_eval : array_like
        Strictly increasing 1-D array of times, starting at 0.
    space : {"fiber", "orbit"}
        Which projection defines the flow.
    method : str
        ``solve_ivp`` method (an explicit one such as "RK45" or "DOP853" for complex weights).
    rtol, atol : float
        ``solve_ivp`` tolerances.
    rank_rtol : float
        Relative singular-value cut-off used to form the projection (numerical rank).

    Returns
    -------
    DenseFlow

    Raises
    ------
    ValueError
        On malformed weights, ``t_eval`` not 1-D / not starting at 0 / not strictly increasing,
        an unknown ``space`` or a ``rank_rtol`` outside ``(0, 1)``.
    """
    W0 = _check_weights(W)
    t_eval = _check_times(t_eval, "t_eval", start_at_zero=True)
    if space not in _SPACES:
        raise ValueError(f"space must be one of {_SPACES}, got {space!r}")
    rank_rtol = _check_rank_rtol(rank_rtol)
    shapes = _shapes(W0)
    projection = dense.dense_projection_vertical if space == "fiber" else dense.dense_projection_orbit

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        P = projection(dense.unflatten(y, shapes), rank_rtol)
        return -(P @ y)

    return _integrate(rhs, W0, t_eval, method, rtol, atol)


def dense_moment_flow(
    W: Sequence[np.ndarray],
    t_eval: np.ndarray,
    *,
    method: str = "RK45",
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> DenseFlow:
    r"""Squared-moment-map flow, integrated densely with ``scipy.integrate.solve_ivp``.

    .. math::

        \frac{dW}{dt} = -A_W(\mu(W)), \qquad A_W(\xi)_i = \xi_i W_i - W_i \xi_{i-1},
        \qquad \mu_i = W_i W_i^* - W_{i+1}^* W_{i+1},

    the gradient flow of ``1/4 ||mu(W)||^2``; ``A_W`` is the dense action matrix
    (:func:`dense.dense_infinitesimal_action`) and ``mu = A_W^*(W)``
    (:func:`dense.dense_moment_map`), both formed at every evaluation.

    Parameters
    ----------
    W : sequence of ndarray
        Initial weights, real or complex.
    t_eval : array_like
        Strictly increasing 1-D array of times, starting at 0.
    method, rtol, atol
        Passed to ``solve_ivp``.

    Returns
    -------
    DenseFlow

    Raises
    ------
    ValueError
        On malformed weights or ``t_eval``.
    """
    W0 = _check_weights(W)
    t_eval = _check_times(t_eval, "t_eval", start_at_zero=True)
    shapes = _shapes(W0)

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        Wy = dense.unflatten(y, shapes)
        A = dense.dense_infinitesimal_action(Wy)
        return -(A @ dense.flatten(dense.dense_moment_map(Wy)))

    return _integrate(rhs, W0, t_eval, method, rtol, atol)


def dense_l2_finite_time(
    W: Sequence[np.ndarray],
    s_eval: np.ndarray,
    *,
    method: str = "DOP853",
    rtol: float = 1e-12,
    atol: float = 1e-14,
    rank_rtol: float = 1e-10,
) -> DenseFlow:
    r"""Finite-time form of the orbit L2 flow, integrated densely on ``s in [0, 1/2]``.

    .. math::

        \frac{dW}{ds} = -A_W(\xi), \qquad \xi = (A_W^* A_W)^+ \mu_0, \qquad \mu_0 = \mu(W(0))
        \ \text{(fixed)},

    which is the orbit L2 flow ``dW/dt = -P_W(W)`` under ``s = (1 - exp(-2t)) / 2``; along it
    ``mu(W(s)) = (1 - 2s) mu_0``. The minimum-norm ``xi`` is computed as
    ``xi = A^+ (A^+)^* mu_0`` (``(A^* A)^+ = A^+ (A^+)^*``) with ``A^+ = pinv(A, rcond=rank_rtol)``,
    the cut-off being relative to the largest singular value of ``A``. On closed orbits the
    velocity stays bounded and ``W(1/2)`` is balanced (the ``t -> infinity`` limit of the orbit
    flow); on non-closed orbits ``||dW/ds|| ~ (1 - 2s)^{-1/2}`` and the solver may struggle near
    ``s = 1/2``.

    Parameters
    ----------
    W : sequence of ndarray
        Initial weights, real or complex.
    s_eval : array_like
        Strictly increasing 1-D array of values in ``[0, 1/2]`` (the integration starts at 0 in
        any case).
    method, rtol, atol
        Passed to ``solve_ivp``.
    rank_rtol : float
        Relative cut-off for the pseudo-inverse.

    Returns
    -------
    DenseFlow
        ``times`` holds the ``s`` values.

    Raises
    ------
    ValueError
        On malformed weights, ``s_eval`` not 1-D / not strictly increasing / outside ``[0, 1/2]``,
        or a ``rank_rtol`` outside ``(0, 1)``.
    """
    W0 = _check_weights(W)
    s_eval = _check_times(s_eval, "s_eval", start_at_zero=False, upper=0.5)
    rank_rtol = _check_rank_rtol(rank_rtol)
    shapes = _shapes(W0)
    mu0 = dense.flatten(dense.dense_moment_map(W0))

    def rhs(_s: float, y: np.ndarray) -> np.ndarray:
        A = dense.dense_infinitesimal_action(dense.unflatten(y, shapes))
        if A.shape[1] == 0:  # N = 1: no hidden layer, no gauge group
            return np.zeros_like(y)
        A_pinv = np.linalg.pinv(A, rcond=rank_rtol)
        xi = A_pinv @ (A_pinv.conj().T @ mu0)
        return -(A @ xi)

    return _integrate(rhs, W0, s_eval, method, rtol, atol)
