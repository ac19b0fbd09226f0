"""Figure 11: SGD noise drives a linear network to its noise equilibrium; GD keeps the gauge
(MATH.md section 6.2; Ziyin et al., NeurIPS 2024, arXiv 2402.07193).

Computed
--------
Label noise ``y = V x + e`` (x ~ N(0, I), e ~ N(0, I/2)); every run starts on the fiber X = V at an
equilibrium mismatch of 1.6 in the first hidden layer
(:func:`dln_git.symmetries.sgd_noise_sim.off_equilibrium_start`), slightly off the minimum.
Per hidden layer i the mismatch is ``||forward - backward|| / ||backward||`` of the predicted
relation ``tr(Q_{i+1}^T Se Q_{i+1}) P_i Sx P_i^T = tr(P_{i-1} Sx P_{i-1}^T) Q_i^T Se Q_i``
(:func:`dln_git.symmetries.linear_noise_models.equilibrium_mismatch`). The prediction is 0 for SGD
(the noise equilibrium) and "unchanged" for GD (mu is conserved up to the eta^2 terms of the exact
identity). (a) the scalar model (u w x - y)^2 (widths (1, 1, 1): mismatch |w^2 - u^2| / u^2),
(b) the two-layer net (3, 2, 3), (c) a depth-3 net (3, 3, 3, 3), every hidden layer. Lines: the mismatch of the
iterate; circles: the mismatch of the two sides averaged over the second half of the SGD run (the
metric of the claims ``symmetries.noise.sgd_*``). Seeds x
methods run through :func:`dln_git.experiments.run_grid`; the figure is drawn from the saved table.
"""

from __future__ import annotations

import pathlib

import numpy as np

from dln_git import plotting
from dln_git.experiments import grid, load_table, run_grid, save_table

NAME = "fig11_noise_equilibria"
PARAMS = {
    "paper": {"seeds": 8, "steps": {"scalar": 8000, "two_layer": 8000, "deep": 16000}, "jobs": None},
    "smoke": {"seeds": 2, "steps": {"scalar": 1500, "two_layer": 1500, "deep": 1500}, "jobs": 1},
}
MODELS = {"scalar": (1, 1, 1), "two_layer": (3, 2, 3), "deep": (3, 3, 3, 3)}
ETA = 0.05
BATCH = {"scalar": 10, "two_layer": 10, "deep": 20}


def run_point(point: dict) -> list[dict]:
    """One (model, method, seed) run -> tidy rows (step, layer, mismatch)."""
    from dln_git.core import haar_orthonormal
    from dln_git.symmetries.sgd_noise_sim import LabelNoiseTask, off_equilibrium_start, simulate_label_noise

    widths = MODELS[point["model"]]
    rng = np.random.default_rng(1000 + point["seed"])
    r = min(widths)
    V = (haar_orthonormal(widths[-1], r, rng) * rng.uniform(0.8, 1.5, r)) @ haar_orthonormal(widths[0], r, rng).T
    task = LabelNoiseTask(V, np.eye(widths[0]), 0.5 * np.eye(widths[-1]))
    W0 = off_equilibrium_start(task, widths, rng, target=1.6)
    steps = point["steps"]
    run = simulate_label_noise(task, W0, eta=ETA, steps=steps, batch=BATCH[point["model"]], method=point["method"],
                               seed=rng, record_every=max(1, steps // 60))
    tail = run.tail_mismatch(0.5)
    rows = []
    for k, step in enumerate(run.steps):
        for i in range(run.mismatch.shape[1]):
            rows.append({"step": int(step), "layer": i + 1, "mismatch": float(run.mismatch[k, i]),
                         "tail_mismatch": float(tail[i]), "identity_defect": run.identity_defect})
    return rows


def compute(out_dir, size: str = "paper") -> pathlib.Path:
    p = PARAMS[plotting.check_size(size)]
    points = [dict(pt, steps=p["steps"][pt["model"]])
              for pt in grid(model=list(MODELS), method=["sgd", "gd"], seed=list(range(p["seeds"])))]
    rows = run_grid(run_point, points, jobs=p["jobs"], progress=False)
    return save_table(rows, pathlib.Path(out_dir) / f"{NAME}_{size}.csv")


def make(out_dir, *, size: str = "paper") -> list:
    table = load_table(compute(out_dir, size))
    titles = {"scalar": "scalar $(uwx-y)^2$", "two_layer": "two-layer $UWx$", "deep": "depth 3, every hidden layer"}
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize="wide")
        for ax, (letter, model) in zip(axes, zip("abc", MODELS, strict=True), strict=True):
            rows = [r for r in table if r["model"] == model]
            for method, color in (("sgd", plotting.PALETTE["measured"]), ("gd", plotting.PALETTE["secondary"])):
                for seed in sorted({r["seed"] for r in rows}):
                    for layer in sorted({r["layer"] for r in rows}):
                        sel = [r for r in rows if r["method"] == method and r["seed"] == seed and r["layer"] == layer]
                        first = seed == 0 and layer == 1
                        ax.semilogy([r["step"] for r in sel], [max(r["mismatch"], 1e-4) for r in sel], "-",
                                    color=color, lw=0.7, alpha=0.8,
                                    label=(f"SGD iterate (eta {ETA}, batch {BATCH[model]})" if method == "sgd"
                                           else "GD (population gradient)") if first else None)
                        if method == "sgd":
                            ax.plot(sel[-1]["step"], max(sel[-1]["tail_mismatch"], 1e-4), "o", ms=3, mfc="none",
                                    color=plotting.PALETTE["balanced"],
                                    label="SGD, sides averaged over the 2nd half" if first else None)
            steps = sorted({r["step"] for r in rows})
            plotting.guide_line(ax, steps, [0.1] * len(steps), label="10% (SGD acceptance)")
            ax.set_xlabel("step")
            ax.set_ylabel("equilibrium mismatch")
            plotting.panel_label(ax, letter, titles[model])
            if letter == "a":
                ax.legend(loc="lower left", fontsize=6)
        return plotting.save(fig, out_dir, NAME, size=size)
