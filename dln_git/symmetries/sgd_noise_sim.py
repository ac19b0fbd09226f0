"""Seeded SGD and GD simulations of linear networks with label noise (docs/math section 6.2).

Task: ``y = V x + e`` with ``x ~ N(0, Sigma_x)`` and ``e ~ N(0, Sigma_e)`` independent, per-sample loss
``||W_N ... W_1 x - y||^2``. SGD draws a fresh minibatch of ``batch`` samples per step (online, so the
gradient noise has exactly the population covariance); GD follows the population gradient
``grad_{W_j} = 2 Q_j^T (X - V) Sigma_x P_{j-1}^T`` (notation of
:mod:`dln_git.symmetries.linear_noise_models`). Both optionally use weight decay lambda:
``W <- (1 - eta lambda) W - eta G``.

What is recorded: the per-layer equilibrium mismatch ``||forward - backward|| / ||backward||``
(:func:`~dln_git.symmetries.linear_noise_models.equilibrium_mismatch`), the excess loss
``tr((X - V) Sigma_x (X - V)^T)``, the moment map ``mu_i`` and the exact discrete identity of
docs/math section 4: ``mu_{k+1,i} = (1 - eta lambda)^2 mu_{k,i} + eta^2 (G_i G_i^T - G_{i+1}^T G_{i+1})``,
accumulated along the run; ``identity_defect`` is ``max_i ||mu_i - mu_i^pred|| / max_t 2 R(W_t)`` at
the end (rounding only). Under GD near a minimum the eta^2 terms are tiny, so mu (hence every
``C = <B, mu_i>``) stays put; under SGD the noise terms drive the weights along the GL orbit to the
noise equilibrium (Ziyin et al. 2024, arXiv 2402.07193).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import moment_map
from ..core.options import Rule, check_options
from ..core.validation import as_matrix, as_weights, widths_of
from ..core.weights import as_rng
from .linear_noise_models import _psd, equilibrium_sides

__all__ = ["LabelNoiseTask", "NoiseRun", "off_equilibrium_start", "simulate_label_noise"]


@dataclass(frozen=True)
class LabelNoiseTask:
    """``y = V x + e``, ``x ~ N(0, Sigma_x)``, ``e ~ N(0, Sigma_e)`` independent (validated copies)."""

    V: np.ndarray
    Sigma_x: np.ndarray
    Sigma_e: np.ndarray
    Lx: np.ndarray = field(init=False, repr=False)
    Le: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        V = np.array(as_matrix(self.V, "V"))
        if np.iscomplexobj(V):
            raise TypeError("V must be real")
        Sx = _psd(self.Sigma_x, "Sigma_x", V.shape[1])
        Se = _psd(self.Sigma_e, "Sigma_e", V.shape[0])
        for name, val in (("V", V), ("Sigma_x", Sx), ("Sigma_e", Se)):
            object.__setattr__(self, name, val)
        object.__setattr__(self, "Lx", _factor(Sx))
        object.__setattr__(self, "Le", _factor(Se))


def _factor(S):
    lam, E = np.linalg.eigh(S)
    return E * np.sqrt(np.clip(lam, 0.0, None))


@dataclass(frozen=True)
class NoiseRun:
    """A recorded run. ``steps`` (T,) are the recorded step indices (0 and every ``record_every``,
    and the last); ``mismatch`` (T, N-1) per hidden layer; ``excess_loss`` (T,); ``mu`` the moment
    maps at the recorded steps (list of tuples); ``forward``/``backward`` per hidden layer the
    two sides of the equilibrium relation at the recorded steps, (T, d_i, d_i); ``W`` the final
    weights; ``identity_defect`` see the module docstring; ``finite`` False if the run diverged
    (then it stops early, ``message`` says so)."""

    method: str
    eta: float
    batch: int
    weight_decay: float
    steps: np.ndarray
    mismatch: np.ndarray
    excess_loss: np.ndarray
    mu: list
    W: tuple
    identity_defect: float
    finite: bool
    message: str
    forward: tuple = field(repr=False, default=())
    backward: tuple = field(repr=False, default=())

    def tail_mismatch(self, fraction: float = 0.25) -> np.ndarray:
        """Per hidden layer, ``||<forward> - <backward>|| / ||<backward>||`` with ``<.>`` the mean over
        the last ``fraction`` of the recorded points (the stationary averages of the two sides)."""
        (fraction,) = check_options(fraction=(fraction, Rule.positive("a fraction of the run", high=1.0)))
        k = max(1, round(fraction * len(self.steps)))
        out = []
        for f, b in zip(self.forward, self.backward, strict=True):
            fm, bm = f[-k:].mean(axis=0), b[-k:].mean(axis=0)
            out.append(np.linalg.norm(fm - bm) / np.linalg.norm(bm))
        return np.array(out)


def _grads(W, Xb, Yb, factor):
    """``G_j = factor * delta_j a_{j-1}^T`` with ``a_j = W_j a_{j-1}`` (a_0 = Xb), ``delta_N = a_N - Yb``."""
    acts = [Xb]
    for Wj in W:
        acts.append(Wj @ acts[-1])
    G = [None] * len(W)
    delta = acts[-1] - Yb
    for j in range(len(W) - 1, -1, -1):
        G[j] = factor * (delta @ acts[j].T)
        if j:
            delta = W[j].T @ delta
    return G


def _end(W):
    X = W[0]
    for Wj in W[1:]:
        X = Wj @ X
    return X


def simulate_label_noise(task: LabelNoiseTask, W0, *, eta: float, steps: int, batch: int = 1, method: str = "sgd",
                         weight_decay: float = 0.0, seed=None, record_every: int = 100) -> NoiseRun:
    """Run SGD (``method="sgd"``, online minibatches of size ``batch``) or GD (``"gd"``, population
    gradient) from ``W0`` for ``steps`` steps with step ``eta``; see the module docstring.

    Randomness only through ``seed`` (int or Generator; unused by GD).
    """
    if not isinstance(task, LabelNoiseTask):
        raise TypeError(f"task must be a LabelNoiseTask, got {type(task).__name__}")
    W = tuple(np.array(w, dtype=np.float64) for w in as_weights(W0))
    d = widths_of(W)
    if len(W) < 2:
        raise ValueError(f"W0 must have at least one hidden layer (N >= 2), got N = {len(W)}")
    if (d[0], d[-1]) != task.V.shape[::-1]:
        raise ValueError(f"W0 maps R^{d[0]} -> R^{d[-1]} but V has shape {task.V.shape}")
    eta, lam = check_options(eta=(eta, Rule.positive("the step size")),
                             weight_decay=(weight_decay, Rule.nonnegative("the weight-decay coefficient")))
    steps, batch, every = check_options(steps=(steps, Rule.count(1, "the number of steps")),
                                        batch=(batch, Rule.count(1, "the batch size")),
                                        record_every=(record_every, Rule.count(1, "the recording stride")))
    (method,) = check_options(method=(method, Rule.choice("sgd", "gd", what="the optimiser")))
    rng = as_rng(seed) if method == "sgd" else None
    Sx, Se, V = task.Sigma_x, task.Sigma_e, task.V
    decay = 1.0 - eta * lam
    pred = [m.copy() for m in moment_map(W)]
    rec_steps, mism, excess, mus, fwd, bwd = [], [], [], [], [], []
    scale = 0.0

    def record(k):
        nonlocal scale
        D = _end(W) - V
        rec_steps.append(k)
        sides = [equilibrium_sides(W, Sx, Se, i) for i in range(1, len(W))]
        fwd.append([f for f, _ in sides])
        bwd.append([b for _, b in sides])
        mism.append([np.linalg.norm(f - b) / np.linalg.norm(b) for f, b in sides])
        excess.append(float(np.sum((D @ Sx) * D)))
        mus.append(moment_map(W))
        scale = max(scale, sum(float(np.sum(w * w)) for w in W))

    record(0)
    chunk = 4096
    finite, msg = True, f"{method.upper()} ran {steps} steps"
    VL = V @ task.Lx
    # divergence is detected below (every 64 steps and at each record), not warned about per step
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            if method == "sgd":
                if (k - 1) % chunk == 0:
                    n = min(chunk, steps - k + 1)
                    Zx = task.Lx @ rng.standard_normal((d[0], n * batch))
                    Zy = V @ Zx + task.Le @ rng.standard_normal((d[-1], n * batch))
                c = ((k - 1) % chunk) * batch
                G = _grads(W, Zx[:, c:c + batch], Zy[:, c:c + batch], 2.0 / batch)
            else:
                G = _grads(W, task.Lx, VL, 2.0)
            for i in range(len(W) - 1):
                pred[i] = decay**2 * pred[i] + eta**2 * (G[i] @ G[i].T - G[i + 1].T @ G[i + 1])
            W = tuple(decay * w - eta * g for w, g in zip(W, G, strict=True))
            due = k % every == 0 or k == steps
            if (due or k % 64 == 0) and not all(np.isfinite(w).all() for w in W):
                finite, msg = False, f"{method.upper()} diverged by step {k} (eta = {eta:g} too large)"
                break
            if due:
                record(k)
    mu = moment_map(W) if finite else pred
    defect = max(float(np.linalg.norm(m - p)) for m, p in zip(mu, pred, strict=True)) / scale if finite else np.nan
    return NoiseRun(method, eta, batch, lam, np.array(rec_steps), np.array(mism), np.array(excess), mus,
                    tuple(w.copy() for w in W), defect, finite, msg, _stack(fwd), _stack(bwd))



def _stack(rows):
    """Per hidden layer i, the recorded d_i x d_i matrices stacked to (T, d_i, d_i)."""
    return tuple(np.array([r[i] for r in rows]) for i in range(len(rows[0])))


def off_equilibrium_start(task: LabelNoiseTask, widths, seed=None, *, target: float = 1.6,
                          perturb: float = 1e-2) -> tuple[np.ndarray, ...]:
    """A start on the fiber ``X = V`` whose first hidden layer has equilibrium mismatch ``target``,
    then moved off the minimum by a relative Gaussian perturbation of size ``perturb``.

    N = 2: the exact equilibrium factorisation (:func:`two_layer_equilibrium_factorisation`) moved by
    ``exp(t B)``, ``B = I + 0.3 R / ||R||_2`` (R random symmetric, so B is positive definite and the
    mismatch grows without bound in t), with t found by Brent so that the mismatch equals ``target``.
    N > 2: the balanced SVD-chart point of V moved by the same kind of gauge element in every hidden
    layer, with one common t (again set by the first hidden layer's mismatch).
    """
    import scipy.linalg
    import scipy.optimize

    from ..core import balanced_from_end_to_end, gauge_act
    from ..core.validation import as_widths
    from .linear_noise_models import equilibrium_mismatch, two_layer_equilibrium_factorisation

    widths = as_widths(widths)
    if (widths[0], widths[-1]) != task.V.shape[::-1] or len(widths) < 3:
        raise ValueError(f"widths must run from {task.V.shape[1]} to {task.V.shape[0]} with a hidden layer, "
                         f"got {widths}")
    target, perturb = check_options(target=(target, Rule.positive("the starting mismatch")),
                                    perturb=(perturb, Rule.nonnegative("the relative perturbation")))
    rng = as_rng(seed)
    if len(widths) == 3:
        Wb = two_layer_equilibrium_factorisation(task.V, widths[1], task.Sigma_x, task.Sigma_e)
    else:
        Wb = balanced_from_end_to_end(task.V, widths, rng)
    Bs = []
    for d in widths[1:-1]:
        R = rng.standard_normal((d, d))
        R = R + R.T
        Bs.append(np.eye(d) + 0.3 * R / np.linalg.norm(R, 2))

    def moved(t):
        return gauge_act(tuple(scipy.linalg.expm(t * B) for B in Bs), Wb)

    def gap(t):
        return equilibrium_mismatch(moved(t), task.Sigma_x, task.Sigma_e)[0] - target

    hi = 0.5
    while gap(hi) < 0 and hi < 20:
        hi *= 2
    lo = 0.0 if gap(0.0) < 0 else -hi
    t = scipy.optimize.brentq(gap, lo, hi, xtol=1e-10)
    W = moved(t)
    return tuple(w + perturb * np.linalg.norm(w) / np.sqrt(w.size) * rng.standard_normal(w.shape) for w in W)
