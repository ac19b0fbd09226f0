"""Figure 10: stable learning rates of ReLU networks, balanced or not, with or without the
orbit-selection penalty ``(rho/4) sum_j D_j^2`` (MATH.md section 6.1).

Computed
--------
The grid of :mod:`dln_git.symmetries.lr_experiment` (one-hidden-layer ReLU networks with biases on
a teacher–student regression and on scikit-learn's digits; balanced or log-normally imbalanced
starts of the same function; penalty weights rho; a log grid of learning rates; seeds), run through
:func:`dln_git.experiments.run_grid` and saved as the tidy table
``fig10_relu_learning_rate_table.csv`` next to the PNG; the figure is drawn from that table read
back with :func:`dln_git.experiments.load_table`. One row of panels per data set:

* (a) the fraction of seeds whose run is stable (loss finite and below 10x its start for all
  steps) against the learning rate, per arm (colour: rho, line style: start);
* (b) the imbalance left at the end (scale drift), ``max_j |D_j(T)| / ||theta_0||^2``, median
  over the stable seeds (the table also holds the maximum over the run);
* (c) the final training loss (teacher) or test accuracy (digits), median over the stable seeds;
* (d) the largest stable learning rate of each seed (every grid rate up to it stable) per arm,
  labelled with the number of seeds on which the arm widened / narrowed the range against the
  same start without penalty.

Sizes: ``smoke`` runs a tiny grid in about 2 s; ``paper`` the full grid (2 data sets x 2 starts x
4 penalty weights x 10 seeds x 17 learning rates = 1360 runs; about 2 minutes on two cores).
Rebuild the drawing from an existing table (no training) with ``make(out_dir, table=path)`` or
``python -m dln_git.figures.fig10_relu_learning_rate --table PATH --out DIR``.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from dln_git import plotting

NAME = "fig10_relu_learning_rate"
TABLE = NAME + "_table.csv"

PARAMS = {
    "paper": {"seeds": 10, "lrs": (-3.0, 1.0, 17), "arms": ("none", "rho=0.01", "rho=0.1", "rho=1", "critical"),
              "steps": 200, "jobs": None},
    "smoke": {"seeds": 2, "lrs": (-2.0, 1.0, 4), "arms": ("none", "rho=0.1", "critical"), "steps": 40, "jobs": 1},
}

_ARM_COLORS = {"none": "#000000", "rho=0.01": "#56B4E9", "rho=0.1": "#0072B2", "rho=1": "#CC79A7",
               "critical": "#D55E00"}
_INIT_STYLE = {"balanced": "--", "imbalanced": "-"}


def _arm_label(arm: str) -> str:
    if arm == "none":
        return "no penalty"
    if arm == "critical":
        return r"$\rho = 1/(2\,\mathrm{lr}\,K_0)$"
    return rf"$\rho$ = {arm[4:]}"


def compute(size: str = "paper", out_dir=None) -> list[dict]:
    """Run the grid of ``size`` and return the rows (saved to ``out_dir/TABLE`` if given)."""
    from dln_git.symmetries.lr_experiment import lr_points, run_lr_experiment

    p = PARAMS[plotting.check_size(size)]
    lo, hi, k = p["lrs"]
    points = lr_points(lrs=np.logspace(lo, hi, k), seeds=range(p["seeds"]), arms=p["arms"], steps=p["steps"])
    path = None if out_dir is None else pathlib.Path(out_dir) / TABLE
    return run_lr_experiment(points, path, jobs=p["jobs"], progress=size == "paper")


def _median_by_lr(rows, key, only_stable=False):
    lrs = sorted({r["lr"] for r in rows})
    out = []
    for lr in lrs:
        vals = [r[key] for r in rows if r["lr"] == lr and (r["stable"] or not only_stable)]
        vals = [v for v in vals if v is not None and np.isfinite(v)]
        out.append(np.median(vals) if vals else np.nan)
    return np.array(lrs), np.array(out)


def _arms_drawn(rows, ds):
    """Every arm of the imbalanced starts, and the balanced start without and with the critical penalty."""
    arms = list(dict.fromkeys(str(r["arm"]) for r in rows if r["dataset"] == ds))
    return [("imbalanced", a) for a in arms] + [("balanced", a) for a in arms if a in ("none", "critical")]


def draw(rows, out_dir, size: str = "paper") -> list:
    """Draw the figure from table rows (as read back by ``load_table``)."""
    from dln_git.symmetries.lr_experiment import summarize

    datasets = [d for d in ("teacher", "digits") if any(r["dataset"] == d for r in rows)]
    summary = summarize(rows)
    with plotting.style():
        fig, axes = plotting.figure(ncols=4, nrows=len(datasets), figsize=(7.4, 2.2 * len(datasets) + 0.5))
        axes = np.asarray(axes).reshape(len(datasets), 4)
        for i, ds in enumerate(datasets):
            metric = "test_accuracy" if ds == "digits" else "final_loss"
            drawn = _arms_drawn(rows, ds)
            for init, arm in drawn:
                sel = [r for r in rows if r["dataset"] == ds and r["init"] == init and str(r["arm"]) == arm]
                style = {"color": _ARM_COLORS.get(arm, "#999999"), "ls": _INIT_STYLE[init], "lw": 1.0,
                         "marker": "o" if init == "imbalanced" else None, "ms": 2.2}
                lrs = np.array(sorted({r["lr"] for r in sel}))
                frac = np.array([np.mean([bool(r["stable"]) for r in sel if r["lr"] == lr]) for lr in lrs])
                axes[i, 0].semilogx(lrs, frac, label=f"{init}, {_arm_label(arm)}", **style)
                lrs, drift = _median_by_lr(sel, "imbalance_final_rel", only_stable=True)
                axes[i, 1].loglog(lrs, np.maximum(drift, 1e-18), **style)
                lrs, val = _median_by_lr(sel, metric, only_stable=True)
                (axes[i, 2].semilogx if ds == "digits" else axes[i, 2].loglog)(lrs, val, **style)
            # (d) the largest stable learning rate of every seed, per arm
            ax = axes[i, 3]
            labels = []
            for k, (init, arm) in enumerate(drawn):
                edges = summary["edges"].get((ds, init, arm), {})
                vals = np.array([edges[s] for s in sorted(edges)], dtype=float)
                jitter = np.linspace(-0.25, 0.25, vals.size) if vals.size > 1 else np.zeros(1)
                ax.scatter(np.where(vals > 0, vals, np.nan), k + jitter, s=6, color=_ARM_COLORS.get(arm, "#999999"),
                           marker="o" if init == "imbalanced" else "^", lw=0)
                c = summary["counts"].get((ds, init, arm))
                tail = f"\n{c['wider']}/{c['seeds']} wider, {c['narrower']} narrower" if c else ""
                labels.append(("imb." if init == "imbalanced" else "bal.") + " " + _arm_label(arm) + tail)
            ax.set_xscale("log")
            ax.set_yticks(range(len(drawn)))
            ax.set_yticklabels(labels, fontsize=4.6)
            ax.invert_yaxis()
            ax.set_xlabel("largest stable learning rate")
            axes[i, 0].set_ylabel("stable fraction of seeds")
            axes[i, 1].set_ylabel(r"median final $\max_j |D_j| / \|\theta_0\|^2$")
            axes[i, 2].set_ylabel("median test accuracy" if ds == "digits" else "median final training loss")
            for ax in axes[i, :3]:
                ax.set_xlabel("learning rate")
            plotting.panel_label(axes[i, 0], f"a{i + 1}", f"{ds}: stable runs")
            plotting.panel_label(axes[i, 1], f"b{i + 1}", "imbalance left")
            plotting.panel_label(axes[i, 2], f"c{i + 1}", "accuracy" if ds == "digits" else "loss")
            plotting.panel_label(axes[i, 3], f"d{i + 1}", "edge per seed")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=5.5, frameon=False)
        return plotting.save(fig, out_dir, NAME, size=size)


def make(out_dir, *, size: str = "paper", table=None) -> list:
    """Run the grid (saving ``out_dir/fig10_relu_learning_rate_table.csv``) and draw it; with
    ``table`` (a saved table's path) draw from that table and run nothing."""
    from dln_git.experiments import load_table

    plotting.check_size(size)
    if table is None:
        compute(size, out_dir)
        table = pathlib.Path(out_dir) / TABLE
    return draw(load_table(table), out_dir, size)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("figures"))
    parser.add_argument("--table", type=pathlib.Path, help="draw from this saved table (no training)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    for path in make(args.out, size="smoke" if args.smoke else "paper", table=args.table):
        print(path)
