"""The orbit-selection (norm-balancing) penalty and its flow (docs/math section 6.1).

``Phi(W) = (rho/4) sum_j D_j^2`` with ``D_j = ||theta_in,j||^2 - ||w_out,j||^2`` (the torus moment
map, :func:`~dln_git.symmetries.neuron_torus.imbalance`).

* Gradient: ``dD_j = 2 <theta_in,j, d theta_in,j> - 2 <w_out,j, d w_out,j>``, so
  ``grad Phi = rho A(D)``, the infinitesimal torus action at ``s = D``:
  ``rho (D_{l,j} - D_{l-1,k}) W_l[j,k]`` on the weights and ``rho D_{l,j} b_l[j]`` on the biases
  (``D_0 = D_L = 0``). It is tangent to the torus orbit, so it does not change f to first order,
  and its flow stays on the orbit: ``W(t) = exp(u(t)).W(0)`` with ``du/dt = -rho D``.
* Imbalance dynamics: ``d/dt <s, D> = <2 A(s), dW/dt>`` gives, along ``dW/dt = -grad Phi``,
  ``dD/dt = -2 rho K D`` with K the torus Gram operator (:func:`~.neuron_torus.torus_gram`). A loss
  gradient conserves D (Euler's identity for positively homogeneous f:
  ``<theta_in,j, dE/dtheta_in,j> = <w_out,j, dE/dw_out,j>``), so with the loss on the same
  equation holds.
* One hidden layer, penalty alone: ``P_j`` is constant and ``dtau_j/dt = -rho D_j
  = -2 rho P_j sinh(2 tau_j)``, hence ``tanh tau_j(t) = tanh tau_j(0) exp(-4 rho P_j t)``.

Reference: arXiv 2602.14729 (orbit selection in homogeneous networks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..core.options import Rule, check_options
from ..core.scaling import rescale
from .homogeneous import HomogeneousNet
from .neuron_torus import _apply_scales, _check_net, _normalized, _sq_norms, _torus_action

__all__ = [
    "PenaltyFlowResult",
    "one_hidden_layer_tau",
    "orbit_penalty",
    "orbit_penalty_grad",
    "penalty_flow",
]

_RHO = Rule.positive("the penalty strength rho")


def _imbalance_scaled(W, b) -> list[np.ndarray]:
    ins, outs = _sq_norms(W, b)
    return [a - o for a, o in zip(ins, outs, strict=True)]


def orbit_penalty(net: HomogeneousNet, rho: float) -> float:
    """``Phi = (rho/4) sum_j D_j^2`` (computed at scale 1: ``Phi`` scales as ``s^4``)."""
    (rho,) = check_options(rho=(rho, _RHO))
    W, b, s = _normalized(_check_net(net))
    value = 0.25 * rho * float(sum(np.sum(d * d) for d in _imbalance_scaled(W, b)))
    return float(rescale(value, s, 4, "the orbit penalty"))


def _grad_scaled(W, b, rho):
    D = _imbalance_scaled(W, b)
    dW, db = _torus_action(W, b, D)
    return tuple(rho * g for g in dW), (None if db is None else tuple(rho * g for g in db))


def orbit_penalty_grad(net: HomogeneousNet, rho: float):
    """``grad Phi = rho A(D)`` as ``(weight_grads, bias_grads or None)`` (same layout as the losses).

    Tangent to the torus orbit of ``net`` (it is the infinitesimal action of ``rho D``).
    """
    (rho,) = check_options(rho=(rho, _RHO))
    W, b, s = _normalized(_check_net(net))
    gW, gb = _grad_scaled(W, b, rho)
    gW = tuple(rescale(gW, s, 3, "grad Phi"))
    return gW, (None if gb is None else tuple(rescale(gb, s, 3, "grad Phi")))


def one_hidden_layer_tau(tau0, P, rho: float, t):
    """Closed form of the penalty flow with one hidden layer: ``tanh tau(t) = tanh tau(0) e^{-4 rho P t}``.

    ``tau0``, ``P``: arrays of the same shape (or broadcastable); ``t >= 0`` a scalar or array
    (broadcast against them). Holds for the penalty alone (with a loss, P moves).
    """
    (rho,) = check_options(rho=(rho, _RHO))
    tau0, P, t = (np.asarray(v, dtype=np.float64) for v in (tau0, P, t))
    if np.any(t < 0) or np.any(P < 0):
        raise ValueError("t and P must be >= 0")
    return np.arctanh(np.tanh(tau0) * np.exp(-4.0 * rho * P * t))


@dataclass(frozen=True)
class PenaltyFlowResult:
    """Outcome of :func:`penalty_flow`.

    Attributes
    ----------
    net : HomogeneousNet
        The network at ``t_final``.
    times : ndarray
        Times at which the trajectory was recorded (``t = 0`` and ``t_final`` included).
    nets : tuple of HomogeneousNet
        The network at each of ``times``.
    max_imbalance : ndarray
        ``max_j |D_j|`` at each of ``times``.
    converged : bool
        The integrator reached ``t_final`` and the result is finite.
    message : str
    """

    net: HomogeneousNet
    times: np.ndarray
    nets: tuple
    max_imbalance: np.ndarray
    converged: bool
    message: str


def _flatten(W, b) -> np.ndarray:
    parts = [w.ravel() for w in W] + ([v.ravel() for v in b] if b is not None else [])
    return np.concatenate(parts)


def _unflatten(y, net: HomogeneousNet):
    W, pos = [], 0
    for w in net.weights:
        W.append(y[pos:pos + w.size].reshape(w.shape))
        pos += w.size
    if net.biases is None:
        return tuple(W), None
    b = []
    for v in net.biases:
        b.append(y[pos:pos + v.size].copy())
        pos += v.size
    return tuple(W), tuple(b)


def penalty_flow(net: HomogeneousNet, rho: float, t_final: float, *, loss: Callable | None = None,
                 method: str = "weights", n_times: int = 21, rtol: float = 1e-10) -> PenaltyFlowResult:
    """Integrate ``dW/dt = -grad Phi(W)`` (``- grad E(W)`` too if ``loss`` is given) up to ``t_final``.

    Parameters
    ----------
    net : HomogeneousNet
    rho : float
        Penalty strength ``rho > 0``.
    t_final : float
    loss : callable, optional
        ``loss(net) -> (value, (weight_grads, bias_grads))``, e.g.
        ``lambda m: mse_loss_and_grad(m, x, y)``.
    method : {"weights", "group"}
        ``"weights"``: an adaptive Dormand–Prince 8(5,3) integration of the parameters (any loss).
        ``"group"``: penalty alone, integrates the log-scales ``du/dt = -rho D(exp(u).W(0))`` and
        returns ``exp(u).W(0)``: the flow stays on the torus orbit exactly, so f is kept to
        rounding whatever the integration error.
    n_times : int
        Number of recorded times (evenly spaced, both ends included).
    rtol : float
        Relative tolerance of the integrator (absolute tolerance ``rtol`` times the largest
        initial entry).
    """
    net = _check_net(net)
    rho, t_final, n_times, rtol = check_options(rho=(rho, _RHO), t_final=t_final,
                                                n_times=(n_times, Rule.count(2, "number of recorded times")),
                                                rtol=rtol)
    (method,) = check_options(method=(method, Rule.choice("weights", "group")))
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable net -> (value, grads), got {type(loss).__name__}")
    if method == "group" and loss is not None:
        raise ValueError("method='group' integrates the penalty alone (a loss gradient leaves the orbit)")
    times = np.linspace(0.0, t_final, n_times)
    W0, b0, s = _normalized(net)
    # at scale 1: Phi(sW) = s^4 Phi(W), so the flow of W/s runs at time s^2 t; a loss is evaluated on
    # the true scale (it is not homogeneous in the parameters when there are biases)
    tscale = s * s
    if method == "group":
        sizes = net.hidden_widths
        offsets = np.cumsum([0, *sizes])

        def split(u):
            return [np.exp(u[offsets[i]:offsets[i + 1]]) for i in range(len(sizes))]

        def rhs(_t, u):
            W, b = _apply_scales(W0, b0, split(u))
            return -rho * tscale * np.concatenate(_imbalance_scaled(W, b)) if sizes else np.zeros(0)

        y0 = np.zeros(int(offsets[-1]))
        atol = rtol
    else:
        def rhs(_t, y):
            W, b = _unflatten(y, net)
            gW, gb = _grad_scaled(W, b, rho * tscale)
            out = _flatten(gW, gb)
            if loss is not None:
                Wt = tuple(w * s for w in W)
                bt = None if b is None else tuple(v * s for v in b)
                _, (lW, lb) = loss(net.replace(weights=Wt, biases=bt))
                out = out + _flatten(lW, lb) / s
            return -out

        y0 = _flatten(W0, b0)
        atol = rtol * max(float(np.max(np.abs(y0))), np.finfo(float).tiny)
    sol = solve_ivp(rhs, (0.0, t_final), y0, method="DOP853", t_eval=times, rtol=rtol, atol=atol)
    nets, maxD = [], []
    if sol.success:
        for k in range(sol.y.shape[1]):
            y = sol.y[:, k]
            if method == "group":
                W, b = _apply_scales(W0, b0, split(y))
            else:
                W, b = _unflatten(y, net)
            m = net.replace(weights=tuple(w * s for w in W), biases=None if b is None else tuple(v * s for v in b))
            nets.append(m)
            D = _imbalance_scaled(W, b)
            maxD.append(s * s * max((float(np.max(np.abs(d))) for d in D), default=0.0))
    finite = sol.success and all(np.isfinite(w).all() for w in nets[-1].weights)
    message = (f"integrated to t = {t_final:g} in {sol.nfev} evaluations (DOP853, rtol {rtol:g}, method {method})"
               if finite else f"integration failed: {sol.message}")
    return PenaltyFlowResult(net=nets[-1] if nets else net, times=times[: len(nets)] if nets else times[:0],
                             nets=tuple(nets), max_imbalance=np.asarray(maxD), converged=bool(finite),
                             message=message)
