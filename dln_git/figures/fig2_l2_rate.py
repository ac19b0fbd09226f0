"""Figure 2: ``||mu(t)|| / ||mu(0)||`` along the L2 balancing flow, every regime, on the line ``e^{-2t}``.

Computed
--------
For every width pattern of :data:`dln_git.figures._common.REGIME_CASES` (closed orbits with equal,
excess and bottleneck widths, non-closed orbits, funnels, a funnel where the fiber flow leaves the
orbit, complex weights, rank-deficient X) and several random instances each (Gaussian layers moved
off balance by a random Hermitian gauge element), the L2 fiber flow ``dW/dt = -Pi_V(W)``
(:func:`dln_git.l2_flow`, ``space="fiber"``; on the off-orbit funnel also the orbit flow
``-P_W(W)``, ``space="orbit"``) recorded on a time grid.

* (a) ``||mu(t)|| / ||mu(0)||`` for every run, coloured by regime, with the prediction;
* (b) the deviation ``| ||mu(t)|| / ||mu(0)|| - e^{-2t} |`` (log scale): how far from the line each
  run is, against the integrator's relative tolerance ``rtol`` (drawn; the relative deviation
  ``e^{2t}`` times this grows as mu decays, because mu is computed from weights of size one);
* (c) the relative drift of ``X = phi(W)`` along each run (the flows keep X fixed).

Prediction drawn: ``mu(W(t)) = e^{-2t} mu(W(0))`` exactly, for both flows, every width pattern and
every X (MATH.md section 3, [derived]; the paper's uniform exponential rate).
"""

from __future__ import annotations

import numpy as np

import dln_git as dg
from dln_git import plotting

from ._common import REGIME_CASES, make_instance

NAME = "fig2_l2_rate"
_MARKERS = ("o", "s", "^", "v", "D", "<", ">", "p", "h", "*", "P")
SEED = 2

PARAMS = {
    "paper": {"instances": 3, "t_final": 4.0, "points": 41, "rtol": 1e-9, "cases": None},
    "smoke": {"instances": 1, "t_final": 1.5, "points": 7, "rtol": 1e-6,
              "cases": ((3, 3, 3), (2, 4, 4, 2), (1, 2, 3, 3))},
}


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    t_eval = np.linspace(0.0, p["t_final"], p["points"])
    cases = [c for c in REGIME_CASES if p["cases"] is None or c.widths in p["cases"]]
    runs = []
    for case in cases:
        spaces = ("fiber", "orbit") if case.regime == "funnel, off-orbit" else ("fiber",)
        for _ in range(p["instances"]):
            W = make_instance(case, rng)
            for space in spaces:
                res = dg.l2_flow(W, p["t_final"], t_eval=t_eval, rtol=p["rtol"], space=space)
                runs.append({
                    "case": case, "space": space, "t": res.times, "ratio": res.mu_norm / res.mu_norm[0],
                    "drift": res.x_drift, "method": res.method, "reached_t_final": res.reached_t_final,
                })
    return {"runs": runs, "rtol": p["rtol"], "t_final": p["t_final"]}


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    runs = data["runs"]
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 3.1))
        seen = set()
        handles = {}
        patterns = list(dict.fromkeys(r["case"] for r in runs))
        colors = plotting.category_colors(len(patterns))  # one colour per width pattern (regime in the label)
        for run in runs:
            case = run["case"]
            k = patterns.index(case)
            marker = _MARKERS[k % len(_MARKERS)]
            color = colors[k]
            ls = "-" if run["space"] == "fiber" else (0, (1, 1))
            key = (case, run["space"])
            label = None
            if key not in seen:
                seen.add(key)
                label = f"{case.regime}: {case.label}" + (" orbit flow" if run["space"] == "orbit" else "")
            t, ratio = run["t"], run["ratio"]
            # markers on a staggered subset of the grid, so that every pattern stays visible on the line
            sl = slice(k % 4, None, 4)
            (line,) = axes[0].semilogy(t[sl], ratio[sl], marker, color=color, ms=3.0,
                                       mfc="none" if run["space"] == "orbit" else color, mew=0.6, alpha=0.9)
            if label:
                handles[label] = line
            dev = np.abs(ratio - np.exp(-2 * t))
            axes[1].semilogy(t[1:], np.maximum(dev[1:], 1e-17), color=color, lw=0.7, ls=ls, alpha=0.85)
            axes[2].semilogy(t[1:], np.maximum(run["drift"][1:], 1e-17), color=color, lw=0.7, ls=ls, alpha=0.85)
        t_fine = np.linspace(0, data["t_final"], 200)
        pred = plotting.prediction_line(axes[0], t_fine, np.exp(-2 * t_fine), label=r"theory $e^{-2t}$", lw=0.9)
        axes[0].set_xlabel(r"$t$")
        axes[0].set_ylabel(r"$\|\mu(W(t))\| \,/\, \|\mu(W(0))\|$")
        plotting.panel_label(axes[0], "a", "L2 flow, every regime")
        plotting.note(axes[0], f"{len(runs)} runs, {len({r['case'] for r in runs})} width patterns", loc="upper right")
        plotting.guide_line(axes[1], [0, data["t_final"]], [data["rtol"]] * 2, label="integrator rtol")
        axes[1].set_xlabel(r"$t$")
        axes[1].set_ylabel(r"$|\,\|\mu(t)\|/\|\mu(0)\| - e^{-2t}|$")
        plotting.panel_label(axes[1], "b", "deviation from the line")
        axes[1].legend(loc="lower right")
        axes[2].set_xlabel(r"$t$")
        axes[2].set_ylabel(r"$\|\phi(W(t)) - X_0\| / \|X_0\|$")
        plotting.panel_label(axes[2], "c", "X is kept")
        worst = max(float(np.max(np.abs(r["ratio"] - np.exp(-2 * r["t"])))) for r in runs)
        worst_rel = max(float(np.max(np.abs(r["ratio"] * np.exp(2 * r["t"]) - 1))) for r in runs)
        plotting.note(axes[1], f"worst {worst:.0e} (relative to $e^{{-2t}}$: {worst_rel:.0e})", loc="upper left")
        fig.legend([pred, *handles.values()], [pred.get_label(), *handles], loc="outside lower center", ncols=3,
                   fontsize=5.8)
        return plotting.save(fig, out_dir, NAME, size=size)
