"""Result records of the flows and of balancing (frozen dataclasses, docs/math section 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..core.regime import Regime
from ..core.regime import regime as _regime

__all__ = ["BalanceResult", "FlowResult"]


@dataclass(frozen=True)
class FlowResult:
    """A flow run from ``W(0)`` to ``W(t_final)``.

    Attributes
    ----------
    weights : tuple of ndarray
        The final point.
    times : ndarray
        Recorded times (t; for the finite-time form, the time ``s = (1 - e^{-2t})/2``).
    mu_norm, regularizer, x_drift : ndarray
        ``||mu(W)||``, ``R(W)`` and ``||phi(W) - X_0|| / ||X_0||`` at the recorded times.
    steps, rejected, evaluations : int
        Accepted and rejected steps, vector-field evaluations.
    converged : bool
        The requested tolerance was reached and the output is finite: ``||mu(W_final)|| <=
        mu_tol`` (the stopping tolerance; for :func:`dln_git.flows.l2_flow_finite_time`, the
        limit at ``s = 1/2`` to its ``mu_tol``), with every step within its error tolerance and
        every inner linear solve converged. False whenever no ``mu_tol`` was requested: a run that
        merely reached its final time says so in ``reached_t_final``.
    message : str
        What happened, including the regime facts that bear on the flow.
    flow : str
        ``"l2-fiber"``, ``"l2-orbit"``, ``"l2-finite-time"`` or ``"moment"``.
    method : str
        The scheme that produced it (``"group"``: RKMK-DP5(4) gauge updates; ``"group8"``: RKMK
        gauge updates on the DOP853 tableau, :mod:`dln_git.flows.rkmk8`; ``"rosenbrock"``:
        linearly implicit Rosenbrock–Munthe-Kaas gauge updates, :mod:`dln_git.flows.rosenbrock`;
        ``"projected"``: DP5(4) plus retraction onto the fiber; ``"scipy"``: ``solve_ivp`` on
        flattened weights).
    trajectory : tuple of weight tuples or None
        The weights at the recorded times, if requested (``record="weights"``).
    reached_t_final : bool
        The integration arrived at the final time (``t_final``, or ``s_final``) with every step
        within its error tolerance, every inner solve converged and a finite output. False if
        it stopped earlier (at ``mu_tol``, a budget, a step-size collapse or a failed solve).
    solver_iterations : int
        Iterations of the inner linear solves over the whole run (for the L2 orbit flows and the
        finite-time form: the preconditioned-CG iterations of every Gram solve ``A_W^* A_W xi =
        rhs``); 0 where the flow has none or does not count them.

    Notes
    -----
    Values of ``||mu||`` and R below the float64 range (weights of scale ~1e-160 or smaller)
    are reported as 0; the flow itself runs on ``W / s`` at scale 1 (see
    :mod:`dln_git.flows.runner`) and its verdicts are taken there.
    """

    weights: tuple[np.ndarray, ...]
    times: np.ndarray
    mu_norm: np.ndarray
    regularizer: np.ndarray
    x_drift: np.ndarray
    steps: int
    rejected: int
    evaluations: int
    converged: bool
    message: str
    flow: str
    method: str
    trajectory: tuple | None = None
    reached_t_final: bool = False
    solver_iterations: int = 0

    @property
    def max_x_drift(self) -> float:
        """Largest recorded relative X drift."""
        return float(np.max(self.x_drift)) if self.x_drift.size else 0.0


@dataclass(frozen=True)
class BalanceResult:
    """A balanced point of the fiber of ``X = phi(W)`` computed by :func:`dln_git.flows.balance`.

    Attributes
    ----------
    weights : tuple of ndarray
        The final point.
    converged : bool
        ``||mu|| <= tol R(W)`` was reached.
    iterations : int
        Newton iterations, integrator steps, or 1 for the SVD chart.
    mu_history : ndarray
        ``||mu||`` after each iteration (entry 0 is the start).
    x_drift : float
        ``||phi(W_final) - X|| / ||X||``.
    regime : Regime
        The regime of the input W (a property, computed on first access if balancing did not
        need it).
    method : str
    limit : str
        Which balanced point this is (the L2 flow's limit, the Kempf–Ness point of the orbit
        closure, or a balanced point of the fiber).
    message : str
    """

    weights: tuple[np.ndarray, ...]
    converged: bool
    iterations: int
    mu_history: np.ndarray
    x_drift: float
    method: str
    limit: str
    message: str
    input_weights: tuple = field(default=(), repr=False)
    _regime: Regime | None = field(default=None, repr=False, compare=False)

    @cached_property
    def regime(self) -> Regime:
        """The regime of the input W (computed on first access when balancing did not need it)."""
        return self._regime if self._regime is not None else _regime(self.input_weights)
