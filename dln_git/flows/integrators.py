"""Adaptive Dormand–Prince 5(4) integrators for flows on weights.

Two steppers share one tableau and one driver:

* :class:`GroupStepper`, a Runge–Kutta–Munthe-Kaas method for orbit flows
  ``dW/dt = A_W(F(W))`` (F a Lie algebra element): ``W_{n+1} = exp(Theta).W_n`` with
  ``Theta = h sum_j b_j K_j``, ``K_j = dexp^{-1}_{Theta_j}(F(exp(Theta_j).W_n))`` and
  ``Theta_j = h sum_l a_jl K_l``. Every update is a gauge transformation, so X is kept to
  rounding error. Local error estimate: ``||W_{n+1} - exp(h sum_j b*_j K_j).W_n||`` (the embedded 4th-order
  solution), measured on the weights so that large generators are caught.
* :class:`ProjectedStepper`, the same tableau on the weights themselves, followed by a
  retraction (for the fiber flow on funnel widths, whose velocity is not a gauge direction).

:func:`integrate` drives any stepper with ``field``, ``step``, ``rtol`` and ``evaluations``; a
stepper's ``order`` attribute (the power of h in its error estimate, default 5) sets the step
controller, and its ``speed(W, F)`` the first step (the linearly implicit
:class:`dln_git.flows.rosenbrock.MomentRosenbrockStepper` uses both).

Dormand & Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980);
Munthe-Kaas, "High order Runge-Kutta methods on manifolds", Appl. Numer. Math. 29 (1999).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.gauge import _action
from ..core.linalg import norm
from .lie_group import act_exp, dexpinv, lincomb

__all__ = ["ORDER", "GroupStepper", "ProjectedStepper", "integrate"]

ORDER = 5

_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B_LOW = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b - c for b, c in zip(_B, _B_LOW, strict=True))


class _TooLarge(ArithmeticError):
    """A trial stage whose group element would be too far from the identity to be accurate."""


#: Largest ``||theta_i||_1`` of a stage exponential (``cond(exp(theta)) <= e^{2 * 20}``).
MAX_GENERATOR_NORM = 20.0


def _bounded(theta):
    if any(np.abs(t).sum(axis=0).max(initial=0.0) > MAX_GENERATOR_NORM for t in theta):
        raise _TooLarge
    return theta


@dataclass
class StepOutcome:
    weights: tuple[np.ndarray, ...]
    first_stage: object  # the vector field at the new point (first-same-as-last)
    error: float  # weighted local error estimate (accept if <= 1)
    weight_space: bool = False


#: Above this ratio ``||F|| ||W|| / ||A_W(F)||`` the gauge parametrisation is ill-conditioned
#: (a near-stabiliser direction carries a large generator for a small velocity) and
#: :class:`GroupStepper` takes the step in weight space followed by the retraction instead.
GENERATOR_CONDITION = 1e3


class _Stepper:
    """A vector field with its evaluation count, tolerances and (optional) retraction."""

    def __init__(self, field: Callable, rtol: float, atol: float, retract: Callable | None):
        self._field = field
        self.rtol = rtol
        self.atol = atol
        self.retract = retract
        self.evaluations = 0

    def field(self, W):
        self.evaluations += 1
        return self._field(W)


class GroupStepper(_Stepper):
    """RKMK step for ``dW/dt = A_W(F(W))``; ``F`` maps weights to a Lie algebra element.

    Where the generator is ill-conditioned (see :data:`GENERATOR_CONDITION`) and a
    ``retract`` is given, the step is a DP5(4) step on the weights with velocity ``A_W(F(W))``
    followed by ``retract``.
    """

    def __init__(self, generator: Callable, rtol: float, atol: float, retract: Callable | None = None):
        super().__init__(generator, rtol, atol, retract)

    def _ill_conditioned(self, W, F) -> bool:
        if self.retract is None:
            return False
        speed = norm(_action(W, F))
        return norm(F) * norm(W) > GENERATOR_CONDITION * speed

    def _weight_space_step(self, W, F1, h: float) -> StepOutcome:
        def stage(Wj):
            F = self.field(Wj)
            return _action(Wj, F), F

        W_new, F_new, err = _weight_space_dp(W, _action(W, F1), h, stage, self.retract)
        return StepOutcome(W_new, F_new, err / (self.atol + self.rtol * norm(W_new)), weight_space=True)

    def step(self, W, F1, h: float) -> StepOutcome:
        try:
            with np.errstate(over="raise", invalid="raise"):
                if self._ill_conditioned(W, F1):
                    return self._weight_space_step(W, F1, h)
                return self._step(W, F1, h)
        except (np.linalg.LinAlgError, FloatingPointError, _TooLarge):
            return StepOutcome(W, F1, float("inf"))

    def _step(self, W, F1, h: float) -> StepOutcome:
        K = [F1]
        for j in range(1, 6):
            theta = _bounded(lincomb([h * a for a in _A[j]], K))
            K.append(dexpinv(theta, self.field(act_exp(W, theta))))
        theta = _bounded(lincomb([h * b for b in _B[:6]], K))
        W_new = act_exp(W, theta)
        F_new = self.field(W_new)
        K.append(dexpinv(theta, F_new))
        W_low = act_exp(W, _bounded(lincomb([h * b for b in _B_LOW], K)))
        err_w = norm([a - b for a, b in zip(W_new, W_low, strict=True)])
        scale = self.atol + self.rtol * norm(W_new)
        return StepOutcome(W_new, F_new, err_w / scale)


class ProjectedStepper(_Stepper):
    """Dormand–Prince step on the weights, ``W_{n+1} = retract(W_n + h sum b_j k_j)``."""

    def __init__(self, velocity: Callable, retract: Callable, rtol: float, atol: float):
        super().__init__(velocity, rtol, atol, retract)

    def step(self, W, k1, h: float) -> StepOutcome:
        def stage(Wj):
            k = self.field(Wj)
            return k, k

        W_new, k_new, err = _weight_space_dp(W, k1, h, stage, self.retract)
        return StepOutcome(W_new, k_new, err / (self.atol + self.rtol * norm(W_new)))


def _weight_space_dp(W, k1, h: float, stage: Callable, retract: Callable):
    """One DP5(4) step on the weights, ``W_{n+1} = retract(W_n + h sum_j b_j k_j)``.

    ``stage(W) -> (velocity, first_stage)``; returns ``(W_{n+1}, first_stage(W_{n+1}),
    ||h sum_j (b_j - b*_j) k_j||)``.
    """
    k = [k1]
    for j in range(1, 6):
        Wj = tuple(w + d for w, d in zip(W, lincomb([h * a for a in _A[j]], k), strict=True))
        k.append(stage(Wj)[0])
    W_new = retract(tuple(w + d for w, d in zip(W, lincomb([h * b for b in _B[:6]], k), strict=True)))
    k_new, first = stage(W_new)
    k.append(k_new)
    return W_new, first, norm(lincomb([h * e for e in _E], k))


@dataclass
class Trajectory:
    """What :func:`integrate` records (internal; the public results are built from it)."""

    times: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    final: tuple = ()
    t_reached: float = 0.0
    steps: int = 0
    rejected: int = 0
    weight_space_steps: int = 0
    evaluations: int = 0
    stopped_early: bool = False
    failure: str = ""


def integrate(
    stepper,
    W0,
    t_final: float,
    *,
    t_eval=None,
    step: float | None = None,
    max_steps: int = 100_000,
    stop: Callable | None = None,
    min_step_ratio: float = 1e-12,
    time_name: str = "t",
    time_shift: int = 0,
    on_step: Callable | None = None,
) -> Trajectory:
    """Drive ``stepper`` from ``t = 0`` to ``t_final``, landing exactly on every ``t_eval``.

    Adaptive (error per unit step below 1, standard 5th-order controller with safety 0.9,
    growth in [0.2, 5]) unless a fixed ``step`` is given. Records the weights at 0, at each
    ``t_eval`` (every accepted step if None), and at the end. After each accepted step
    ``stop(W)`` may end the run: ``True`` (a stopping tolerance was reached: ``stopped_early``)
    or a string (a budget ran out: the reason becomes ``failure``). A step-size collapse below
    ``min_step_ratio * t_final`` or ``max_steps`` stops the run and sets ``failure``.
    ``on_step(t, W)``, if given, is called after every accepted step (progress feedback).
    """
    def shown(x: float) -> str:  # a time in the caller's units (the run may use t 2^time_shift)
        return f"{np.ldexp(x, -time_shift):.6g}"

    out = Trajectory()
    W = tuple(W0)
    out.times.append(0.0)
    out.weights.append(W)
    marks = [] if t_eval is None else sorted(float(t) for t in t_eval if 0.0 < t <= t_final)
    if not marks or marks[-1] < t_final:
        marks.append(float(t_final))
    F = stepper.field(W)
    t = 0.0
    if step is not None:
        h = float(step)
    else:
        h = _initial_step(stepper, W, F, t_final)
    mark = 0
    order = getattr(stepper, "order", ORDER)  # the error estimate is O(h^order)
    while mark < len(marks):
        if out.steps + out.rejected >= max_steps:
            out.failure = f"stopped after {max_steps} steps at {time_name} = {shown(t)} of {shown(t_final)}"
            break
        target = marks[mark]
        h_try = min(h, target - t)
        landing = h_try >= target - t - 1e-14 * max(1.0, abs(target))
        if landing:
            h_try = target - t
        outcome = stepper.step(W, F, h_try)
        finite = np.isfinite(outcome.error) and all(np.all(np.isfinite(w)) for w in outcome.weights)
        if step is None and (not finite or outcome.error > 1.0):
            out.rejected += 1
            factor = 0.2 if not finite else max(0.2, 0.9 * outcome.error ** (-1.0 / order))
            h = h_try * factor
            if h < min_step_ratio * t_final:
                out.failure = (f"step size collapsed to {h:.2e} at {time_name} = {shown(t)}: the velocity blows up "
                               f"(local error {outcome.error:.2e})")
                break
            continue
        if not finite:
            out.failure = f"non-finite state at {time_name} = {shown(t)} with fixed step {h_try:.3g}"
            break
        W, F = outcome.weights, outcome.first_stage
        t = target if landing else t + h_try
        out.steps += 1
        out.weight_space_steps += outcome.weight_space
        if step is None:
            growth = 5.0 if outcome.error == 0 else min(5.0, max(0.2, 0.9 * outcome.error ** (-1.0 / order)))
            h = max(h_try, h) * growth if landing else h_try * growth
        if t_eval is None or landing:
            out.times.append(t)
            out.weights.append(W)
        if landing:
            mark += 1
        if on_step is not None:
            on_step(t, W)
        verdict = None if stop is None else stop(W)
        if verdict:
            if isinstance(verdict, str):
                out.failure = f"{verdict} (at {time_name} = {shown(t)})"
            else:
                out.stopped_early = True
            if out.times[-1] != t:
                out.times.append(t)
                out.weights.append(W)
            break
    out.final = W
    out.t_reached = t
    out.evaluations = stepper.evaluations
    return out


def _initial_step(stepper, W, F, t_final: float) -> float:
    """A first step from the speed: ``h0 = 0.1 (rtol)^{1/5} ||W|| / ||dW/dt||``, at most t_final."""
    if hasattr(stepper, "speed"):
        speed = stepper.speed(W, F)
    elif isinstance(stepper, GroupStepper):
        speed = norm(_action(W, F))
    else:
        speed = norm(F)
    if speed == 0.0:
        return float(t_final)
    order = getattr(stepper, "order", ORDER)
    return float(min(t_final, 0.5 * max(stepper.rtol, 1e-14) ** (1.0 / order) * norm(W) / speed))
