"""Raw and quotient observables recorded along a training run, and staged learning read from them.

* :class:`QuotientMonitor`: a recorder ``monitor(t, W)`` for any training loop; its ``rows`` are a
  tidy table (one dict per time, scalars only) for :func:`dln_git.experiments.save_table`.
  :func:`record_training` fills one from a :class:`dln_git.decomposition.TrainResult` run with
  ``record_weights=True`` (``train`` has no callback; it keeps the weights at the recorded times).
* Staged learning (Saxe, McClelland & Ganguli 2014): from a small start, a deep linear network
  learns the singular modes of its target one after another. The **transition time** of mode k
  is the first time ``s_k(X(t))`` reaches ``fraction * s_k(Y)`` (default one half), linearly
  interpolated between records (:func:`crossing_time`). The aligned-mode prediction
  (:func:`predicted_transition_time`) is the time the scalar balanced flow
  ``da/dt = N a^{2 - 2/N} (s - a)`` of :func:`dln_git.decomposition.aligned_mode` takes from
  ``a_0`` to ``fraction * s``: ``t = int_{a_0}^{fraction s} db / (N b^{2-2/N} (s - b))``, exact for a
  balanced start whose X is aligned with the target's singular vectors.
* Sharpness (:func:`rise_time`): the time an observable takes to go from 10% to 90% of its total
  change. A singular value rises in one transition; a raw layer norm ``||W_i||_F^2`` collects a
  share ``s_k^{2/N}`` of every mode, so its rise spans several transitions.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.integrate

from ..core.options import Rule, check_options
from ..core.validation import as_depth
from .quotient import dln_observables

__all__ = [
    "QuotientMonitor",
    "crossing_time",
    "max_rate_time",
    "observable_row",
    "predicted_transition_time",
    "record_training",
    "rise_time",
]

FRACTION = Rule("real", 0.0, 1.0, True, True, what="the fraction of the target value that marks a transition")


def observable_row(W, t: float | None = None, *, loss=None) -> dict:
    """One tidy row of raw and quotient observables of DLN weights W.

    Keys: ``t``; ``loss`` (``E(X)`` when a loss is given); quotient ``sv_1..sv_r`` (``s_k(X)``),
    ``balanced_norm`` (each layer norm of the balanced representative), ``min_R``; raw
    ``norm_1..norm_N`` (``||W_i||_F``), ``R``, ``mu_norm``.
    """
    obs = dln_observables(W)
    row = {} if t is None else {"t": float(t)}
    if loss is not None:
        row["loss"] = float(loss(obs.end_to_end)[0])
    row.update({f"sv_{k}": float(v) for k, v in enumerate(obs.singular_values, start=1)})
    row["balanced_norm"] = float(obs.balanced_layer_norms[0])
    row["min_R"] = obs.min_regularizer
    row.update({f"norm_{i}": float(v) for i, v in enumerate(obs.layer_norms, start=1)})
    row["R"] = obs.regularizer
    row["mu_norm"] = obs.mu_norm
    return row


class QuotientMonitor:
    """Records :func:`observable_row` at each call ``monitor(t, W)``; ``rows`` is the tidy table.

    ``extra`` (a dict) is merged into every row (a seed, a run label).
    """

    def __init__(self, loss=None, extra: dict | None = None):
        self.loss = loss
        self.extra = dict(extra or {})
        self._rows: list[dict] = []

    def __call__(self, t: float, W) -> dict:
        row = {**self.extra, **observable_row(W, t, loss=self.loss)}
        self._rows.append(row)
        return row

    @property
    def rows(self) -> list[dict]:
        """The recorded rows (copies)."""
        return [dict(r) for r in self._rows]

    def column(self, name: str) -> np.ndarray:
        """One observable over the recorded times."""
        if not self._rows or name not in self._rows[0]:
            raise KeyError(f"no recorded column {name!r}")
        return np.array([r[name] for r in self._rows], dtype=float)


def record_training(result, loss=None, extra: dict | None = None) -> list[dict]:
    """Tidy rows of raw and quotient observables at the recorded times of a training run.

    ``result`` is a :class:`dln_git.decomposition.TrainResult` trained with ``record_weights=True``
    (its ``trajectory``); ``loss`` adds ``E(X)``. Raises ``ValueError`` without a trajectory.
    """
    trajectory = getattr(result, "trajectory", None)
    if trajectory is None:
        raise ValueError("record_training needs the weights along the run: train with record_weights=True")
    monitor = QuotientMonitor(loss, extra)
    for t, W in zip(result.times, trajectory, strict=True):
        monitor(float(t), W)
    return monitor.rows


def _series(times, values):
    t = np.asarray(times, dtype=float).ravel()
    y = np.asarray(values, dtype=float).ravel()
    if t.size != y.size or t.size < 2:
        raise ValueError(f"times and values must have the same length >= 2, got {t.size} and {y.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("times and values must be finite")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must increase strictly")
    return t, y


def crossing_time(times, values, level: float, *, cubic: bool = False) -> float:
    """First time the series reaches ``level`` from below (NaN if never).

    Linear interpolation between the two records around the crossing (error ``O(h^2)`` in the record
    spacing h), or with ``cubic=True`` the root, inside that interval, of the cubic through the four
    records around it (error ``O(h^4)``; linear where fewer than four records are available or the
    cubic has no root in the interval).
    """
    t, y = _series(times, values)
    above = np.nonzero(y >= level)[0]
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(t[0])
    linear = float(t[i - 1] + (level - y[i - 1]) * (t[i] - t[i - 1]) / (y[i] - y[i - 1]))
    if not cubic or i < 2 or i + 1 >= t.size:
        return linear
    ts, ys = t[i - 2 : i + 2], y[i - 2 : i + 2] - level
    coef = np.polyfit(ts - t[i - 1], ys, 3)
    roots = np.roots(coef)
    real = [r.real + t[i - 1] for r in roots if abs(r.imag) <= 1e-12 * (t[i] - t[i - 1])]
    inside = [r for r in real if t[i - 1] <= r <= t[i]]
    return float(min(inside, key=lambda r: abs(r - linear))) if inside else linear


def rise_time(times, values, low: float = 0.1, high: float = 0.9) -> float:
    """Time from the first crossing of ``y_0 + low * dy`` to that of ``y_0 + high * dy``,
    ``dy = y_end - y_0`` (a rising series; a falling one is read upside down). NaN if no change."""
    (low, high) = check_options(low=(low, FRACTION), high=(high, FRACTION))
    if not low < high:
        raise ValueError(f"low = {low} must be below high = {high}")
    t, y = _series(times, values)
    dy = y[-1] - y[0]
    if dy == 0:
        return math.nan
    z = (y - y[0]) / dy
    return crossing_time(t, z, high) - crossing_time(t, z, low)


def max_rate_time(times, values) -> float:
    """The time of the largest ``|dy/dt|`` (central differences; the midpoint of the steepest interval)."""
    t, y = _series(times, values)
    rate = np.abs(np.diff(y) / np.diff(t))
    k = int(np.argmax(rate))
    return float(0.5 * (t[k] + t[k + 1]))


def predicted_transition_time(s: float, a0: float, depth: int, fraction: float = 0.5) -> float:
    """Aligned-mode prediction of the time a mode goes from ``a0`` to ``fraction * s``.

    ``t = int_{a0}^{fraction s} db / f(b)``, ``f(b) = N b^{2 - 2/N} (s - b)`` (the scalar flow of
    :func:`dln_git.decomposition.aligned_mode` with lam = 0); closed form
    ``(log((s/a0 - 1) / (1/fraction - 1)))/(2s)`` for N = 2 and ``log((s - a0)/(s - a))`` for N = 1,
    adaptive quadrature (relative accuracy 1e-11) for N >= 3. Zero if ``a0 >= fraction s``.
    """
    depth = as_depth(depth)
    (fraction,) = check_options(fraction=(fraction, FRACTION))
    s, a0 = float(s), float(a0)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"s must be a finite positive target singular value, got {s}")
    if not (math.isfinite(a0) and a0 > 0):
        raise ValueError(f"a0 must be a finite positive initial value (a zero mode never moves), got {a0}")
    level = fraction * s
    if a0 >= level:
        return 0.0
    if depth == 1:
        return math.log((s - a0) / (s - level))
    if depth == 2:
        return math.log((s / a0 - 1.0) / (1.0 / fraction - 1.0)) / (2.0 * s)
    power = 2.0 - 2.0 / depth

    # substitute b = a0 e^u: db/f(b) = du b^{-(1 - 2/N)} / (N (s - b)), smooth in u over many decades of a0
    def integrand(u):
        b = a0 * math.exp(u)
        return b ** (1.0 - power) / (depth * (s - b))

    value, _ = scipy.integrate.quad(integrand, 0.0, math.log(level / a0), epsabs=0.0, epsrel=1e-11, limit=200)
    return float(value)
