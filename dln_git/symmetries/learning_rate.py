"""Learning-rate stability of ReLU networks under the neuron-rescaling gauge (MATH.md section 6.1).

The claim under test: the orbit-selection penalty ``(rho/4) sum_j D_j^2`` (``D_j = ||theta_in,j||^2
- ||w_out,j||^2``, :func:`dln_git.symmetries.neuron_torus.imbalance`) widens the range of stable
learning rates and suppresses scale drift, without changing what the network can express (every
torus orbit carries one function).

Why it should: on the minimum set of the scalar model ``1/2 (a c - y)^2`` the Hessian is
``[[c^2, a c], [a c, a^2]]``, whose sharpness (largest eigenvalue) is ``a^2 + c^2 >= 2|ac| = 2|y|``,
with equality exactly at the balanced point ``|a| = |c|`` (:func:`scalar_sharpness`). Gradient
descent with step ``lr`` is linearly stable at a minimum iff ``lr < 2 / sharpness``, so the balanced
minimum admits the largest step, ``1/|y|``, and an imbalanced one of the same function a step
smaller by the factor ``2|y| / (a^2 + c^2)``. Rescaling a ReLU neuron by ``c`` multiplies the
curvature along its incoming weights by about ``1/c^2`` and along its outgoing weights by ``c^2``.

The experiment (:mod:`dln_git.symmetries.lr_experiment`: ``lr_points``, ``lr_task``,
``summarize``; figure
``dln_git/figures/fig10_relu_learning_rate.py``): one-hidden-layer ReLU networks with biases,
He-initialised, then either *balanced* (``D = 0`` by the closed form :func:`balanced_init`) or
*imbalanced* (the same network rescaled by log-normal factors ``c_j = exp(spread z_j)``,
:func:`imbalanced_init`: the same function to rounding, ``|D|`` large), trained by full-batch GD
(or seeded minibatch SGD) on the loss with or without the penalty, at a log grid of learning
rates, over seeds, on two data sets (:mod:`dln_git.symmetries.lr_data`).

Stability (:func:`train`): a run is *stable* if its training loss stays finite and at most
``blowup`` (default 10) times its initial value at every step. A GD run below the edge of
stability decreases the loss (descent lemma: ``lr < 2/L`` on the sublevel set); one above it
grows the unstable component by ``|1 - lr lambda| > 1`` per step, i.e. geometrically, and passes
any fixed multiple within a few dozen steps, while catapult spikes of a run that recovers
stay below 10x (each row records the peak ``max_t E_t / E_0``
as ``loss_peak_ratio``). The largest stable learning rate of a seed is the edge of
the range of grid rates that are ALL stable from the smallest one up
(``lr_experiment.summarize``), so a lucky isolated stable run above a failure does not count.

The penalty arms (:func:`dln_git.symmetries.lr_experiment.penalty_weight`): no penalty, fixed
weights ``rho`` in {0.01, 0.1, 1}, and the step-matched ``rho = 1/(2 lr K_0)`` with
``K_0 = max_j (||theta_in,j||^2 + ||w_out,j||^2)`` at the start. One GD step on the penalty alone
maps ``D_j -> D_j (1 - 2 lr rho K_j) + O(D_j^2)`` (claim ``symmetries.lr.penalty_step``): a fixed rho
is itself unstable above ``lr ~ 1/(rho K_0)`` and too slow to rebalance far below it; the matched
weight balances the stiffest neuron in about one step at every lr.

Measured (``dln_git/figures/fig10_relu_learning_rate.py``, paper size: one-hidden-layer ReLU nets
with biases, widths (10, 32, 1) on the teacher–student regression (200 train samples, MSE) and
(64, 32, 10) on digits (1000 train samples, cross-entropy); 200 full-batch GD steps; log-normal
spread 1.5; 17 learning rates in [1e-3, 10]; 10 seeds; 3400 runs, 3.5 min with
``OPENBLAS_NUM_THREADS=1`` and 2 jobs on two shared cores). Largest stable learning rate (median
over seeds): balanced 0.56 (teacher) and 2.5 (digits); the same functions imbalanced, no penalty,
0.018 and 0.44. Against the same imbalanced start without penalty:

* ``rho = 1/(2 lr K_0)``: wider on 10/10 seeds (teacher, median ratio 3.16) and 8/10 (digits, 2
  the same, ratio 1.78); never narrower. It recovers part of the balanced range, not all of it
  (median edges 0.056 and 1.0).
* fixed rho: teacher rho = 0.1 wider on 10/10 (ratio 3.16), rho = 0.01 on 2/10 (8 the same),
  rho = 1 NARROWER on 10/10; digits every fixed rho (0.01, 0.1, 1) NARROWER on 10/10, with
  median edges 0.056, 0.0056, 0 against ``1/(rho K_0)`` = 0.047, 0.0047, 0.00047: the penalty's own
  step limit: the digits net's imbalanced start is stiffer (median K_0 = 2100 against 170 for the
  teacher; 3.4 and 1.5 balanced).
* balanced starts: no penalty arm widens the range on any seed (nothing to rebalance); the
  stronger ones narrow it on some seeds (teacher: rho = 1 3/10, matched 2/10; digits: rho = 0.1
  5/10, rho = 1 10/10, matched 3/10).
* scale drift: the penalty leaves ``max_j |D_j| / ||theta_0||^2`` at 1e-3..1e-2 after 200 steps
  against 0.4..0.5 without it (lr = 0.01); balanced runs without penalty drift to 1e-5..5e-5 at
  lr = 0.01 and to ~1e-1 near their edge (GD changes D by ``lr^2 (||g_in||^2 - ||g_out||^2)`` per step).

So: the claim "the penalty widens the stable range" holds from imbalanced starts on both data
sets for a penalty weight matched to the step, and for a fixed weight only in a window (teacher
rho = 0.1); a fixed weight too strong for the start's scale narrows it (every fixed weight tried
on digits). The counts are in :data:`MEASURED`.

Sensitivity to the stability threshold (recomputed from ``loss_peak_ratio`` of the same table):
208 of the 2001 stable runs rose above 1.01x their start and 132 above 2x (peak 9.97x), so with
``blowup = 2`` some counts move: digits rho = 0.01 wider on 5/10 instead of 0/10, digits matched
9/10, teacher matched 9/10, teacher rho = 0.01 3/10. The fixed-rho conclusions on digits are
threshold-dependent; the matched-weight ones are not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.options import Rule, check_options
from .gauge_balance import balance_neurons, balance_one_hidden_layer
from .homogeneous import HomogeneousNet, cross_entropy_loss_and_grad, homogeneous_net, mse_loss_and_grad
from .lr_data import LRData
from .neuron_torus import imbalance, rescale_neurons
from .penalty import orbit_penalty_grad

__all__ = [
    "MEASURED",
    "LRRun",
    "balanced_init",
    "imbalanced_init",
    "random_relu_net",
    "scalar_gd",
    "scalar_sharpness",
    "train",
]

#: The counts of the paper-size grid (figure 10; module docstring, "Measured").
MEASURED = (
    "imbalanced starts (spread 1.5), largest stable lr with vs without penalty over 10 seeds: "
    "teacher: rho = 1/(2 lr K_0) wider on 10/10 (median x3.16), rho = 0.1 wider 10/10 (x3.16), rho = 0.01 wider 2/10 "
    "(8 same), rho = 1 narrower 10/10; digits: rho = 1/(2 lr K_0) wider on 8/10 (2 same, median x1.78), every fixed "
    "rho (0.01, 0.1, 1) narrower on 10/10; balanced starts: no arm wider on any seed"
)


# ------------------------------------------------------------------------------------------------
# The scalar fact: sharpness on the minimum set of 1/2 (a c - y)^2
# ------------------------------------------------------------------------------------------------
def _finite_scalars(**values) -> list[float]:
    out = []
    for name, v in values.items():
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} = {v} is not finite")
        out.append(float(v))
    return out


def scalar_sharpness(a: float, c: float, y: float) -> float:
    """Largest Hessian eigenvalue of ``E(a, c) = 1/2 (a c - y)^2`` at ``(a, c)``, in closed form.

    ``H = [[c^2, 2ac - y], [2ac - y, a^2]]``, so
    ``lambda_max = (a^2 + c^2)/2 + sqrt(((a^2 - c^2)/2)^2 + (2ac - y)^2)``; on the minimum set
    ``ac = y`` this is ``a^2 + c^2 >= 2|y|``, equal to ``2|y|`` iff ``|a| = |c|`` (balanced).
    """
    a, c, y = _finite_scalars(a=a, c=c, y=y)
    return 0.5 * (a * a + c * c) + math.hypot(0.5 * (a * a - c * c), 2 * a * c - y)


def scalar_gd(a: float, c: float, y: float, lr: float, steps: int) -> np.ndarray:
    """Gradient descent on ``1/2 (a c - y)^2``: the residuals ``a_t c_t - y``, ``t = 0..steps``.

    ``a <- a - lr r c``, ``c <- c - lr r a`` with ``r = a c - y`` (simultaneous update).
    """
    a, c, y = _finite_scalars(a=a, c=c, y=y)
    lr, steps = check_options(lr=lr, steps=(steps, Rule.count(1, "GD steps")))
    out = np.empty(steps + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            r = a * c - y
            out[t] = r
            a, c = a - lr * r * c, c - lr * r * a
    return out


# ------------------------------------------------------------------------------------------------
# Initialisations
# ------------------------------------------------------------------------------------------------
def random_relu_net(widths: Sequence[int], rng, *, biases: bool = True, activation: str = "relu") -> HomogeneousNet:
    """He initialisation ``W_l ~ N(0, 2/d_{l-1})`` entrywise, biases zero (if any)."""
    rng = np.random.default_rng(rng)
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must be at least two positive integers (d_0, ..., d_L), got {widths}")
    W = [rng.standard_normal((widths[i + 1], widths[i])) * np.sqrt(2.0 / widths[i]) for i in range(len(widths) - 1)]
    b = [np.zeros(w.shape[0]) for w in W] if biases else None
    return homogeneous_net(W, b, activation)


def balanced_init(net: HomogeneousNet, *, tol: float = 1e-13) -> HomogeneousNet:
    """The balanced point (``D = 0``) of the torus orbit of ``net``: the same function.

    One hidden layer: the closed form ``c_j = sqrt(||w_out,j|| / ||theta_in,j||)`` (then
    ``||c theta_in,j|| = ||w_out,j|| / c``, exact to rounding); deeper networks: the exact Newton
    balancing :func:`dln_git.symmetries.gauge_balance.balance_neurons` to ``max |D_j| <= tol *
    scale``. Neurons with a zero incoming or outgoing part cannot be balanced and are left alone.
    """
    if not isinstance(net, HomogeneousNet):
        raise TypeError(f"net must be a HomogeneousNet, got {type(net).__name__}")
    if net.depth == 2:
        return balance_one_hidden_layer(net, tol).net
    return balance_neurons(net, tol, method="newton").net


def imbalanced_init(net: HomogeneousNet, spread: float, rng) -> HomogeneousNet:
    """``net`` rescaled by log-normal torus factors ``c_j = exp(spread z_j)``, ``z_j ~ N(0, 1)``.

    The function is unchanged (positive homogeneity; to rounding, ~1e-15 relative), ``D`` is not:
    from a balanced start ``D_j = (c_j^2 - c_j^{-2}) P_j`` with ``P_j = ||theta_in,j|| ||w_out,j||``.
    """
    (spread,) = check_options(spread=(spread, Rule.nonnegative("log-normal spread of the neuron factors")))
    rng = np.random.default_rng(rng)
    return rescale_neurons(net, [np.exp(spread * rng.standard_normal(d)) for d in net.hidden_widths])


# ------------------------------------------------------------------------------------------------
# The penalty and training
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LRRun:
    """One training run at a fixed learning rate.

    Attributes
    ----------
    net : HomogeneousNet
        The final network (the last finite one if the run diverged).
    losses : ndarray
        Training loss (data term, full batch) at steps ``0..`` (shorter if the run diverged).
    stable : bool
        Every recorded loss finite and ``<= blowup * losses[0]``.
    divergence_step : int
        First step violating that (``-1`` if stable).
    imbalance_max : float
        ``max_t max_j |D_j(t)|`` over the run.
    sq_norm_init : float
        ``||theta_0||^2``: squared norm of all parameters at the start (the scale ``D`` is compared to).
    norm_growth : float
        ``max_t ||theta_t||^2 / ||theta_0||^2``.
    converged : bool
        The requested steps ran and the output is finite (same as ``stable`` here).
    message : str
    """

    net: HomogeneousNet
    losses: np.ndarray
    stable: bool
    divergence_step: int
    imbalance_max: float
    imbalance_final: float
    sq_norm_init: float
    norm_growth: float
    converged: bool
    message: str

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def _data_loss(net, x, y, task):
    return mse_loss_and_grad(net, x, y) if task == "regression" else cross_entropy_loss_and_grad(net, x, y)


def _sq_norm(net) -> float:
    mats = list(net.weights) + (list(net.biases) if net.biases is not None else [])
    return float(sum(np.vdot(m, m) for m in mats))


def train(net: HomogeneousNet, data: LRData, *, lr: float, steps: int, rho: float = 0.0, batch_size=None,
          rng=None, blowup: float = 10.0) -> LRRun:
    """Gradient descent on ``E(theta) + (rho/4) sum_j D_j^2`` for ``steps`` steps.

    ``E`` is ``1/(2n)||f(x) - y||^2`` (regression) or softmax cross-entropy (classification).
    ``batch_size=None``: full-batch GD; otherwise minibatch SGD on seeded random batches (``rng``)
    without replacement within an epoch. The run stops at the first step where the full-batch
    training loss is non-finite or exceeds ``blowup`` times its initial value, or a parameter
    would become non-finite (:attr:`LRRun.divergence_step`).
    """
    if not isinstance(net, HomogeneousNet):
        raise TypeError(f"net must be a HomogeneousNet, got {type(net).__name__}")
    if not isinstance(data, LRData):
        raise TypeError(f"data must be an LRData, got {type(data).__name__}")
    n = data.x_train.shape[1]
    (lr, steps, rho, blowup, batch_size) = check_options(
        lr=lr, steps=(steps, Rule.count(1, "training steps")), rho=(rho, Rule.nonnegative("the penalty weight")),
        blowup=(blowup, Rule("real", 1.0, None, True, what="loss blow-up factor, > 1")),
        batch_size=(batch_size, Rule("int", 1, n, allow_none=True, what=f"batch size, 1..{n}")))
    gen = np.random.default_rng(rng)
    net = net.replace(weights=net.weights)  # a validated copy: the result never shares the input's arrays
    x, y, task = data.x_train, data.y_train, data.task
    sq0 = _sq_norm(net)
    losses, dmax, growth = [], 0.0, 1.0
    order, pos = np.arange(n), n
    diverged, message = -1, f"{steps} steps at lr {lr:g}: the loss stayed finite and below {blowup:g}x its start"
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(steps + 1):
            value, grads = _data_loss(net, x, y, task)
            losses.append(value)
            dmax = max(dmax, max((float(np.max(np.abs(d))) for d in imbalance(net)), default=0.0))
            growth = max(growth, _sq_norm(net) / sq0)
            if not math.isfinite(value) or value > blowup * losses[0]:
                diverged = t
                message = f"diverged at step {t}: loss {value:.3g} vs {losses[0]:.3g} at the start (limit {blowup:g}x)"
                break
            if t == steps:
                break
            if batch_size is not None:
                if pos + batch_size > n:
                    order, pos = gen.permutation(n), 0
                idx = order[pos:pos + batch_size]
                pos += batch_size
                _, grads = _data_loss(net, x[:, idx], y[..., idx], task)
            gW, gb = grads
            if rho > 0:
                pW, pb = orbit_penalty_grad(net, rho)
                gW = [g + p for g, p in zip(gW, pW, strict=True)]
                gb = None if gb is None else [g + p for g, p in zip(gb, pb, strict=True)]
            W = [w - lr * g for w, g in zip(net.weights, gW, strict=True)]
            b = None if gb is None else [v - lr * g for v, g in zip(net.biases, gb, strict=True)]
            if not all(np.isfinite(m).all() for m in W + (b or [])):
                diverged = t + 1
                losses.append(math.inf)
                message = f"diverged at step {t + 1}: a parameter overflowed"
                break
            net = net.replace(weights=W, biases=b)
    d_final = max((float(np.max(np.abs(d))) for d in imbalance(net)), default=0.0)
    stable = diverged < 0
    return LRRun(net, np.array(losses), stable, diverged, dmax, d_final, sq0, growth, stable, message)
