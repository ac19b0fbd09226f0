"""Figure 12: staged learning seen through quotient observables, blurred by raw ones (MATH.md 6.3).

Computed
--------
A deep linear network trained by gradient flow (:func:`dln_git.decomposition.train`) on a whitened
regression with target singular values (3, 2, 1) from a small balanced start aligned with the target
(:func:`dln_git.symmetries.staged.staged_learning`); a second run from a generic Gaussian small start.
The raw and quotient observables along each run are recorded by :mod:`dln_git.symmetries.monitor`,
saved as a tidy table (``run_grid`` + ``save_table``) and the figure is drawn from the table read back.

* (a) the loss E(X(t)): plateaus and drops;
* (b) the quotient observables ``s_k(X(t))``: one sharp rise per mode, at the aligned-mode prediction
  ``t_k = int_{a0}^{s_k/2} da / (N a^{2-2/N} (s_k - a))`` (dashed verticals; measured crossings of
  ``s_k/2`` as dots);
* (c) the raw observables ``||W_i(t)||_F^2`` (each rises through every transition) and ``||mu||``
  (conserved by the flow: blind to learning), with the same predicted times.
"""

from __future__ import annotations

import pathlib

import numpy as np

from dln_git import plotting
from dln_git.experiments import load_table, run_grid, save_table

NAME = "fig12_staged_learning"
SEED = 12

PARAMS = {
    "paper": {"widths": (10, 10, 9, 10, 10), "a0": 1e-3, "records": 600, "generic_widths": (10, 9, 10)},
    "smoke": {"widths": (8, 8, 8, 8), "a0": 1e-2, "records": 100, "generic_widths": (6, 6, 6)},
}
TARGET = (3.0, 2.0, 1.0)


def _run(point: dict) -> list[dict]:
    """One training run: trace rows (kind "trace") and one row per mode (kind "transition")."""
    from dln_git.symmetries.staged import staged_learning

    r = staged_learning(tuple(point["widths"]), TARGET, point["a0"], point["seed"], init=point["init"],
                        records=point["records"])
    rows = [{"kind": "trace", **row} for row in r.rows]
    rows += [{"kind": "transition", "mode": k + 1, "measured": float(m), "predicted": float(p),
              "target": float(s), "rel_error": float(e)}
             for k, (m, p, s, e) in enumerate(zip(r.measured, r.predicted, r.target, r.relative_error, strict=True))]
    return rows


def compute(out_dir, size: str = "paper") -> pathlib.Path:
    """Run the two trainings and save the tidy table; returns its path."""
    p = PARAMS[plotting.check_size(size)]
    points = [
        {"run": "aligned", "init": "aligned", "widths": str(p["widths"]), "a0": p["a0"], "seed": SEED,
         "records": p["records"]},
        {"run": "generic", "init": "generic", "widths": str(p["generic_widths"]), "a0": p["a0"], "seed": SEED,
         "records": p["records"]},
    ]
    rows = run_grid(_task, points, jobs=1, progress=False)
    return save_table(rows, pathlib.Path(out_dir) / "tables" / f"{NAME}.csv")


def _task(point: dict) -> list[dict]:
    widths = tuple(int(x) for x in point["widths"].strip("()").split(","))
    return _run({**point, "widths": widths})


def _column(rows, name):
    return np.array([r[name] for r in rows], dtype=float)


def make(out_dir, *, size: str = "paper") -> list:
    table = load_table(compute(out_dir, size))
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 2.7))
        colors = plotting.cycle_colors(3, "viridis", 0.1, 0.75)
        for run, style in (("aligned", "-"), ("generic", ":")):
            trace = [r for r in table if r["run"] == run and r["kind"] == "trace"]
            trans = [r for r in table if r["run"] == run and r["kind"] == "transition"]
            t = _column(trace, "t")
            label = "aligned balanced start" if run == "aligned" else "generic start (N = 2)"
            axes[0].plot(t, _column(trace, "loss"), style, color=plotting.PALETTE["measured"], label=label)
            if run != "aligned":
                continue
            depth = sum(1 for key in trace[0] if key.startswith("norm_"))
            for k, tr in enumerate(trans):
                sv = _column(trace, f"sv_{k + 1}")
                axes[1].plot(t, sv, color=colors[k], label=rf"$s_{k + 1}(X)$, target {tr['target']:g}")
                axes[1].plot(tr["measured"], tr["target"] / 2, "o", color=colors[k], ms=4)
                for ax in axes:
                    ax.axvline(tr["predicted"], **{**plotting.PREDICTION_STYLE, "linewidth": 0.8})
            layer_colors = plotting.cycle_colors(depth, "magma", 0.2, 0.8)
            for i in range(1, depth + 1):
                axes[2].plot(t, _column(trace, f"norm_{i}") ** 2, color=layer_colors[i - 1], label=rf"$\|W_{i}\|_F^2$")
            axes[2].plot(t, _column(trace, "mu_norm"), "--", color=plotting.PALETTE["secondary"],
                         label=r"$\|\mu\|$ (conserved)")
            worst = max(abs(tr["rel_error"]) for tr in trans)
            plotting.note(axes[1], f"measured vs predicted $t_k$:\nworst relative error {worst:.1e}", loc="lower right")
        axes[1].plot([], [], **plotting.PREDICTION_STYLE, label="aligned-mode prediction $t_k$")
        axes[0].set_ylabel(r"loss $E(X(t))$")
        axes[1].set_ylabel("singular values of X (quotient)")
        axes[2].set_ylabel("raw layer norms")
        for ax in axes:
            ax.set_xlabel("time $t$")
        axes[0].legend(loc="upper right", fontsize=5.5)
        axes[1].legend(loc="upper left", fontsize=5.5)
        axes[2].legend(loc="upper left", fontsize=5.5)
        plotting.panel_label(axes[0], "a", "loss")
        plotting.panel_label(axes[1], "b", "quotient: $s_k(X)$")
        plotting.panel_label(axes[2], "c", "raw: layer norms")
        return plotting.save(fig, out_dir, NAME, size=size)
