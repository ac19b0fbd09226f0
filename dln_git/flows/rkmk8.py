"""An eighth-order Runge–Kutta–Munthe-Kaas scheme (Dormand–Prince 8(5,3) tableau) for orbit flows.

For ``dW/dt = A_W(F(W))`` (F a Lie algebra element, MATH.md section 3) the step is
``W_{n+1} = exp(Theta).W_n`` with ``Theta = h sum_j b_j K_j``,
``K_j = dexp^{-1}_{Theta_j}(F(exp(Theta_j).W_n))`` and ``Theta_j = h sum_l a_jl K_l``: the
classical DOP853 method (Hairer, Nørsett & Wanner, *Solving ODEs I*, section II.10; the
coefficients of Hairer's ``dop853.f``, :mod:`dln_git.flows.dop853_tableau`) applied to the ODE of
``Theta`` in the Lie algebra.
Munthe-Kaas (Appl. Numer. Math. 29, 1999): the scheme keeps the order of the tableau (8) when
``dexp^{-1}`` is truncated after ``ad^{p-2} = ad^6``. Every update is a gauge transformation, so
X is kept to rounding error, as with the fifth-order :class:`dln_git.flows.integrators.GroupStepper`.

The local error estimate is DOP853's (its fifth- and third-order embedded differences
``E5``, ``E3`` combined as ``|e5|^2 / sqrt(|e5|^2 + 0.01 |e3|^2)``), measured on the weights
through ``A_{W_{n+1}}`` and relative to ``atol + rtol ||W_{n+1}||``. At the tight tolerances of
balancing (rtol 1e-11) it takes a third of the vector-field evaluations of the fifth-order scheme
on Gaussian weights (measured: 212 against 523 at widths (16,)*5), each evaluation a Gram solve.
"""

from __future__ import annotations

import numpy as np

from ..core.end_to_end import _end_to_end
from ..core.gauge import _action
from ..core.linalg import norm
from . import dop853_tableau as _dop853
from .fields import fiber_retraction
from .integrators import MAX_GENERATOR_NORM, GroupStepper, StepOutcome
from .lie_group import act_exp, bracket, lincomb
from .runner import _integrate, _result, _scale, _summary

__all__ = ["ORDER8", "Rkmk8Stepper", "dexpinv8", "run_rkmk8"]

#: Order of the scheme (the error estimate is O(h^8) per step, used by the step-size controller).
ORDER8 = 8

_STAGES = _dop853.N_STAGES  # 12
_A = _dop853.A  # (12, 12), strictly lower triangular
_B = _dop853.B  # (12,)
_C = _dop853.C  # (12,)
#: Degree of the Lagrange polynomial in c through the nearest stages that predicts the next stage's
#: field (warm start of its Gram solve): measured PCG iterations per solve at (16,)*5 and (32,)*5,
#: rtol 1e-11, seeds 0-1: 29.1, 24.9, 32.9, 35.9 without prediction, 24.6, 21.1, 28.2, 30.1 with
#: degree 1.
_PREDICTION_DEGREE = 3
_E3 = _dop853.E3  # (13,): the last weight, of the field at the new point, is 0
_E5 = _dop853.E5  # (13,)

#: ``B_k / k!`` for k = 0, 1, 2, 4, 6 (Bernoulli numbers; the odd ones beyond k = 1 vanish).
_DEXPINV_COEFFS = (1.0, -0.5, 1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0)


def dexpinv8(theta, F) -> tuple[np.ndarray, ...]:
    """``dexp^{-1}_theta(F)`` truncated after ``ad^6`` (exact to the order 8 of the scheme).

    ``dexp^{-1}_theta = sum_k B_k / k! ad_theta^k = I - ad/2 + ad^2/12 - ad^4/720 + ad^6/30240 - ...``
    with ``ad_theta(F) = [theta, F]`` layerwise.
    """
    ad1 = bracket(theta, F)
    ad2 = bracket(theta, ad1)
    ad4 = bracket(theta, bracket(theta, ad2))
    ad6 = bracket(theta, bracket(theta, ad4))
    return lincomb(_DEXPINV_COEFFS, (F, ad1, ad2, ad4, ad6))


def _bounded(theta):
    """``theta``, or ``ArithmeticError`` when a stage exponential would be inaccurate (as the DP5 scheme)."""
    if any(np.abs(t).sum(axis=0).max(initial=0.0) > MAX_GENERATOR_NORM for t in theta):
        raise _StageTooLarge
    return theta


class _StageTooLarge(ArithmeticError):
    pass


class Rkmk8Stepper(GroupStepper):
    """RKMK step of order 8 for ``dW/dt = A_W(F(W))``, ``F = generator`` (see the module docstring).

    Same interface as :class:`~dln_git.flows.integrators.GroupStepper` (first-same-as-last
    vector field, weight-space fallback where the generator is ill-conditioned and a
    ``retract`` is given). ``order = 8`` tells the step-size controller of
    :func:`~dln_git.flows.integrators.integrate` to update ``h <- 0.9 h err^{-1/8}`` (with the
    fifth-order update the estimate is over-corrected: 13 of 29 steps were rejected at widths
    (16,)*5, rtol 1e-11, against 4 of 17).
    """

    order = ORDER8

    def _suggest(self, F, s: int) -> None:
        """Warm start for stage s (node ``c_s``; ``c = 1`` for the end point): the field
        extrapolated in c by the Lagrange polynomial through the computed stages with the nearest
        distinct nodes (degree :data:`_PREDICTION_DEGREE`), passed to the generator if it takes
        suggestions (:meth:`dln_git.flows.fields.L2Generator.suggest`); the inner solve's answer
        does not depend on it, only its iteration count."""
        suggest = getattr(self._field, "suggest", None)
        if suggest is None or len(F) < 2:
            return
        c = _C[s] if s < _STAGES else 1.0
        nodes = []  # the nearest stages with distinct nodes, at most ORDER_OF_PREDICTION + 1
        for j in sorted(range(len(F)), key=lambda j: (abs(_C[j] - c), j)):
            if all(_C[j] != _C[k] for k in nodes):
                nodes.append(j)
            if len(nodes) == _PREDICTION_DEGREE + 1:
                break
        weights = [np.prod([(c - _C[k]) / (_C[j] - _C[k]) for k in nodes if k != j]) for j in nodes]
        suggest(lincomb(weights, [F[j] for j in nodes]))

    def step(self, W, F1, h: float) -> StepOutcome:
        try:
            return super().step(W, F1, h)
        except _StageTooLarge:
            return StepOutcome(W, F1, float("inf"))

    def _step(self, W, F1, h: float) -> StepOutcome:
        K = [F1]
        F = [F1]  # the raw stage fields, for warm starts of the generator's inner solves
        for s in range(1, _STAGES):
            theta = _bounded(lincomb(h * _A[s, :s], K))
            self._suggest(F, s)
            F.append(self.field(act_exp(W, theta)))
            K.append(dexpinv8(theta, F[-1]))
        theta = _bounded(lincomb(h * _B, K))
        W_new = act_exp(W, theta)
        self._suggest(F, _STAGES)
        F_new = self.field(W_new)
        K.append(dexpinv8(theta, F_new))
        scale = self.atol + self.rtol * norm(W_new)
        e5 = norm(_action(W_new, lincomb(h * _E5, K))) / scale
        e3 = norm(_action(W_new, lincomb(h * _E3, K))) / scale
        err = 0.0 if e5 == 0.0 and e3 == 0.0 else e5 * e5 / np.sqrt(e5 * e5 + 0.01 * e3 * e3)
        return StepOutcome(W_new, F_new, float(err))


def run_rkmk8(W, generator, opts, *, flow, notes=(), time_name="t", budget=None):
    """Integrate ``dW/dt = A_W(generator(W))`` by :class:`Rkmk8Stepper` gauge updates.

    The counterpart of :func:`dln_git.flows.runner.run_group` (same options, stopping rule,
    progress bar, retraction fallback and result); ``method`` of the result is ``"group8"``. The generator's
    inner-solve ``iterations`` and ``solves``, if it counts them, are noted in the message.
    """
    X0 = _end_to_end(W)
    atol = 1e-3 * opts.rtol * _scale(W) if opts.atol is None else opts.atol
    stepper = Rkmk8Stepper(generator, opts.rtol, atol, retract=fiber_retraction(W, generator))
    traj = _integrate(stepper, W, opts, budget, flow, time_name)
    failures = getattr(generator, "failures", [])
    notes = list(notes)
    if getattr(generator, "dense_fallbacks", 0):
        notes.append(f"{generator.dense_fallbacks} Gram solves redone densely where PCG stagnated "
                     "(near-singular Gram operator close to the orbit closure)")
    if traj.weight_space_steps:
        notes.append(f"{traj.weight_space_steps} of {traj.steps} steps taken in weight space with a retraction "
                     "onto the fiber, where the gauge generator was ill-conditioned")
    if getattr(generator, "solves", 0):
        notes.append(f"{generator.iterations} PCG iterations in {generator.solves} Gram solves")
    ok = not traj.failure and not failures
    return _result(traj.times, traj.weights, X0, steps=traj.steps, rejected=traj.rejected,
                   evaluations=traj.evaluations, ok=ok, reached=not traj.stopped_early, mu_tol=opts.mu_tol,
                   message=_summary(traj, opts, failures, notes, time_name), flow=flow,
                   method="group8", record=opts.record, time_name=time_name)
