"""Figure 7: fast-slow: the distance of ``dW/dt = -grad E(W) - (1/eps) Pi_V(W)`` to the learning flow is O(eps).

Computed
--------
For a few instances (Gaussian weights of the given widths, off balance by order one, a random target
or a partially observed one), :func:`dln_git.decomposition.fast_slow_distance` integrates the
fast-slow system from ``W_0`` and the learning flow of ``X_0 = phi(W_0)`` on the balanced manifold of
the same depth, both to ``t_final``, recorded on one grid (50 equal steps plus ``eps`` times a grid
of the fast time ``t/eps`` in ``[0, tau_max]``, so the initial layer is resolved; :func:`time_grid`),
for ``eps`` from ``1e-1`` down:

* (a) ``max_t ||X_eps(t) - X_lf(t)||`` against eps on log-log axes, per instance, with the
  least-squares slope in the legend and a slope-1 guide through the smallest eps;
* (b) ``||X_eps(t) - X_lf(t)|| / eps`` against t (first instance, every eps; log time axis from
  ``1e-2 eps_min``): the curves collapse, so the distance is ``eps`` times a profile that does not
  depend on eps; it builds up during the initial layer ``t ~ eps``, where the slow part of the
  velocity is evaluated at unbalanced weights;
* (c) ``||mu(W(t))|| / ||mu(W(0))||`` along the fast-slow system against the fast time ``t/eps``
  (first instance, every eps), with the exact law; the runs leave it where ``||mu||`` reaches the
  integrator's absolute tolerance (about ``1e-11 ||W_0||``).

Predictions drawn (MATH.md section 4):

* [paper] the fast-slow system relaxes to the balanced manifold on the time eps and then follows the
  learning flow, at distance O(eps) (slope 1 in (a), collapse in (b));
* [derived] since ``A_W^*(grad E) = 0`` and ``A_W^*(Pi_V W) = mu``,
  ``mu(W(t)) = e^{-2t/eps} mu(W(0))`` exactly (c).
"""

from __future__ import annotations

import numpy as np

import dln_git as dg
from dln_git import plotting
from dln_git.decomposition import MatrixCompletion, SquaredDistance, fast_slow_distance

NAME = "fig7_fast_slow"
SEED = 7

#: Instances: (widths, loss kind) with loss kind "distance" (``1/2 ||X - Y||^2``, Gaussian Y) or
#: "completion" (``Y`` of rank one observed on about 60 % of its entries).
INSTANCES = (((2, 3, 2), "distance"), ((3, 3, 3, 2), "distance"), ((3, 3, 3), "completion"))

PARAMS = {
    "paper": {"eps": (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5), "instances": INSTANCES,
              "t_final": 1.0, "tau_max": 12.0, "tau_points": 25, "rtol": 1e-9},
    "smoke": {"eps": (1e-1, 1e-2, 1e-3), "instances": (((2, 2, 2), "distance"),), "t_final": 1.0,
              "tau_max": 8.0, "tau_points": 9, "rtol": 1e-8},
}

INSTANCE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


def make_loss(widths, kind: str, rng):
    """The loss of an instance (see :data:`INSTANCES`)."""
    shape = (widths[-1], widths[0])
    if kind == "distance":
        return SquaredDistance(rng.standard_normal(shape))
    if kind == "completion":
        Y = np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1]))
        mask = rng.random(shape) < 0.6
        mask.flat[0] = True  # never empty
        return MatrixCompletion(Y, mask)
    raise ValueError(f"unknown loss kind {kind!r}")


def time_grid(eps: float, t_final: float, tau_max: float, points: int) -> np.ndarray:
    """50 equal steps of ``[0, t_final]``, and ``eps`` times ``points`` equal steps of ``[0, tau_max]`` and
    8 geometric ones of ``[1e-2, 0.5]`` (the start of the layer on the log axis of panel (b))."""
    fast = eps * np.concatenate([np.linspace(0.0, tau_max, points), np.geomspace(1e-2, 0.5, 8)])
    return np.union1d(np.linspace(0.0, t_final, 51), fast[fast <= t_final])


def fitted_slope(eps, distance) -> float:
    """Least-squares slope of ``log distance`` against ``log eps``."""
    return float(np.polyfit(np.log(eps), np.log(distance), 1)[0])


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    instances = []
    for widths, kind in p["instances"]:
        W0 = dg.random_weights(widths, rng)
        loss = make_loss(widths, kind, rng)
        runs = []
        for eps in p["eps"]:
            t_eval = time_grid(eps, p["t_final"], p["tau_max"], p["tau_points"])
            res = fast_slow_distance(W0, loss, eps, t_final=p["t_final"], t_eval=t_eval, rtol=p["rtol"])
            runs.append({"eps": eps, "distance": res.distance, "t": res.times, "distances": res.distances,
                         "mu_ratio": res.fast_slow.mu_norm / res.fast_slow.mu_norm[0]})
        eps = np.array([r["eps"] for r in runs])
        dist = np.array([r["distance"] for r in runs])
        instances.append({"widths": widths, "kind": kind, "runs": runs, "eps": eps, "distance": dist,
                          "slope": fitted_slope(eps, dist), "mu0": dg.moment_norm(W0)})
    return {"instances": instances, "params": p}


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    p, instances = data["params"], data["instances"]
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 2.7))

        # (a) distance against eps
        ax = axes[0]
        for k, inst in enumerate(instances):
            color = INSTANCE_COLORS[k % len(INSTANCE_COLORS)]
            label = f"({','.join(map(str, inst['widths']))}) {inst['kind']}: slope {inst['slope']:.2f}"
            ax.loglog(inst["eps"], inst["distance"], "o-", color=color, ms=3.5, lw=0.8, label=label)
            e = inst["eps"]
            guide = plotting.guide_line(ax, e, inst["distance"][-1] * e / e[-1],
                                        label="slope 1 (guide)")
        ax.set_xlabel(r"$\varepsilon$")
        ax.set_ylabel(r"$\max_t \|X_\varepsilon(t) - X_{\mathrm{lf}}(t)\|$")
        measured = [h for h in ax.get_lines() if h.get_marker() == "o"]
        ax.set_ylim(bottom=min(inst["distance"].min() for inst in instances) / 40)  # room for the legend
        ax.legend(handles=[*measured, guide], loc="lower right", fontsize=5.3)
        plotting.panel_label(ax, "a", "distance to the learning flow")

        # (b) distance / eps over time, first instance
        first = instances[0]
        colors = plotting.cycle_colors(len(first["runs"]), "viridis", 0.0, 0.85)
        eps_min = min(r["eps"] for r in first["runs"])
        ax = axes[1]
        for run, color in zip(first["runs"], colors, strict=True):
            t = run["t"]
            keep = t >= 1e-2 * eps_min
            ax.semilogx(t[keep], run["distances"][keep] / run["eps"], color=color, lw=0.9,
                        label=rf"$\varepsilon$ = {run['eps']:.0e}")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(r"$\|X_\varepsilon(t) - X_{\mathrm{lf}}(t)\| / \varepsilon$")
        ax.legend(loc="upper left", fontsize=5.0, ncols=2)
        plotting.panel_label(ax, "b", f"over time, ({','.join(map(str, first['widths']))})")

        # (c) moment map against the fast time
        ax = axes[2]
        tau_max = p["tau_max"]
        for run, color in zip(first["runs"], colors, strict=True):
            tau = run["t"] / run["eps"]
            keep = tau <= tau_max
            ax.semilogy(tau[keep], run["mu_ratio"][keep], "o", color=color, ms=2.6, alpha=0.85)
        ax.plot([], [], "o", color=colors[len(colors) // 2], ms=2.6, label=r"fast-slow, every $\varepsilon$ of (b)")
        tau = np.linspace(0.0, tau_max, 200)
        plotting.prediction_line(ax, tau, np.exp(-2.0 * tau), label=r"$e^{-2t/\varepsilon}$", lw=0.9)
        ax.set_xlabel(r"fast time $t / \varepsilon$")
        ax.set_ylabel(r"$\|\mu(W(t))\| / \|\mu(W(0))\|$")
        ax.set_ylim(bottom=1e-12)
        ax.legend(loc="upper right", fontsize=5.8)
        plotting.panel_label(ax, "c", r"relaxation to $\mu = 0$")
        return plotting.save(fig, out_dir, NAME, size=size)
