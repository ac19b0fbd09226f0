"""Figure 14: symmetry via duality (MATH.md 6.4, Maiti–Stoner–Halverson arXiv 2106.00694).

Computed
--------
* (a) Invariance of the n-point functions under an output map ``R in O(D)`` (Haar for the symmetric
  law; for the broken law the reflection moving the mean's direction ``1`` away), n = 1..4, for a
  DLN, a ReLU net, a Gauss-net and a cos-net, with a centred last layer (the symmetric law) and with
  a last-layer mean 3 (the broken law): the deviation ``R^{(x)n} G^(n) - G^(n)``, estimated on common
  draws, in standard errors of the difference, as the Bonferroni single-test equivalent ``z_eq`` of
  the largest component (:func:`dln_git.symmetries.correlators.output_invariance_test`); lines at
  the claims' thresholds 4.89 (false alarm 1e-6) and 10.
* (b) Test accuracy of a one-hidden-layer ReLU classifier (digits, or a Gaussian mixture without
  scikit-learn) trained by full-batch GD on one-hot and one-cold targets, against the initial output
  mean ``shift * t_bar`` created by a last-layer weight mean (``shift > 0``: toward the targets' mean;
  ``< 0``: away), at an early epoch and at the end (mean and standard error over seeds).

Measured (paper size): every symmetric-law bar is below 2 (Bonferroni), every broken correlator that
the mean reaches is above 25; with one-cold targets breaking away costs up to 14 points at epoch 16
(0.36 at shift -6 vs 0.50 at 0) and 3 points at epoch 100, breaking toward by the targets' mean
(shift 1) matches the symmetric law (+0.2 points), overshooting toward costs less than the same
shift away; one-hot targets are insensitive (see :mod:`dln_git.symmetries.symmetry_breaking`).

Both panels run through :func:`dln_git.experiments.run_grid`; the rows are saved with
:func:`~dln_git.experiments.save_table` next to the figure and the figure is drawn from the tables
read back with :func:`~dln_git.experiments.load_table`.
"""

from __future__ import annotations

import pathlib

import numpy as np

from dln_git import plotting
from dln_git.experiments import grid, load_table, run_grid, save_table

NAME = "fig14_duality"
SEED = 14
KINDS = ("linear", "relu", "gauss", "cos")

PARAMS = {
    "paper": {"draws": 20000, "seeds": 6, "epochs": 100, "shifts": (-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0), "jobs": 2},
    "smoke": {"draws": 600, "seeds": 1, "epochs": 12, "shifts": (-1.0, 0.0, 1.0), "jobs": 1},
}


def invariance_task(point: dict) -> dict:
    """One output-rotation test: ``point`` has ``kind``, ``law`` ("symmetric"/"broken"), ``n``, ``draws``, ``seed``."""
    from dln_git.core import haar_orthonormal
    from dln_git.symmetries.architectures import network_family
    from dln_git.symmetries.correlators import output_invariance_test, reflection_moving

    rng = np.random.default_rng([SEED, KINDS.index(point["kind"]), int(point["n"]), int(point["seed"]),
                                 point["law"] == "broken"])
    widths = {"linear": (3, 4, 4, 3), "relu": (3, 5, 3), "gauss": (3, 5, 3), "cos": (3, 5, 3)}[point["kind"]]
    fam = network_family(point["kind"], widths, sigma_b=0.0 if point["kind"] != "relu" else 0.3,
                         last_weight_mean=3.0 if point["law"] == "broken" else 0.0)
    x = rng.standard_normal((1, 3)) / np.sqrt(3)
    x = np.repeat(x, int(point["n"]), axis=0) + 0.3 * rng.standard_normal((int(point["n"]), 3)) / np.sqrt(3)
    R = haar_orthonormal(3, 3, rng) if point["law"] == "symmetric" else reflection_moving(np.ones(3), rng)
    t = output_invariance_test(fam, x, R, int(point["draws"]), rng)
    return {"z_equivalent": t.z_equivalent, "max_z": t.max_z, "n_components": t.n_components}


def _dataset() -> str:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "mixture"
    return "digits"


def compute(size: str = "paper", out_dir=None) -> dict:
    from dln_git.symmetries.symmetry_breaking import breaking_task

    p = PARAMS[plotting.check_size(size)]
    out_dir = pathlib.Path(out_dir if out_dir is not None else ".")
    inv = run_grid(invariance_task, grid(kind=KINDS, law=("symmetric", "broken"), n=(1, 2, 3, 4), seed=[0],
                                         draws=[p["draws"]]), jobs=p["jobs"], progress=False)
    brk = run_grid(breaking_task, grid(dataset=[_dataset()], coding=("one-hot", "one-cold"), shift=p["shifts"],
                                       seed=range(p["seeds"]), epochs=[p["epochs"]], n_checkpoints=[6]),
                   jobs=p["jobs"], progress=False)
    paths = (save_table(inv, out_dir / f"{NAME}_invariance.csv"), save_table(brk, out_dir / f"{NAME}_breaking.csv"))
    return {"invariance": load_table(paths[0]), "breaking": load_table(paths[1])}


def _accuracy_curve(rows, coding, epoch):
    shifts = sorted({r["shift"] for r in rows})
    means, ses = [], []
    for s in shifts:
        acc = np.array([r["test_accuracy"] for r in rows
                        if r["coding"] == coding and r["shift"] == s and r["epoch"] == epoch])
        means.append(acc.mean())
        ses.append(acc.std(ddof=1) / np.sqrt(acc.size) if acc.size > 1 else 0.0)
    return np.array(shifts), np.array(means), np.array(ses)


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size, out_dir)
    inv, brk = data["invariance"], data["breaking"]
    with plotting.style():
        fig, axes = plotting.figure(ncols=2, figsize="wide_tall")
        ax = axes[0]
        width = 0.38
        for k, law in enumerate(("symmetric", "broken")):
            vals = [max(max(r["z_equivalent"] for r in inv if r["kind"] == kind and r["law"] == law and r["n"] == n),
                        1e-2) for kind in KINDS for n in (1, 2, 3, 4)]
            pos = np.arange(len(vals)) + (k - 0.5) * width
            raw = [max(r["max_z"] for r in inv if r["kind"] == kind and r["law"] == law and r["n"] == n)
                   for kind in KINDS for n in (1, 2, 3, 4)]
            ax.bar(pos, vals, width, color=plotting.PALETTE["measured" if law == "symmetric" else "balanced"],
                   label=f"{law} law" + (" (last-layer mean 3)" if law == "broken" else " (centred)"))
            ax.plot(pos, np.maximum(raw, 1e-2), "x", color="k", ms=3, label="largest raw |z|" if k else None)
        ax.axhline(4.89, **{**plotting.PREDICTION_STYLE, "linewidth": 0.9}, label="threshold 4.89 (false alarm 1e-6)")
        ax.axhline(10.0, color=plotting.PALETTE["level"], ls=":", lw=1.0, label="breaking threshold 10")
        ax.set_yscale("log")
        ax.set_ylim(1e-2, 3e4)  # room for the legend; bars at 1e-2 are z_eq = 0 (no component beyond Bonferroni)
        ax.set_xticks(np.arange(16))
        ax.set_xticklabels([f"{kind[:4]}\nn={n}" if n == 1 else f"n={n}" for kind in KINDS for n in (1, 2, 3, 4)],
                           fontsize=5)
        ax.set_ylabel(r"$|R^{\otimes n}G^{(n)} - G^{(n)}|$ in SE (Bonferroni $z_{eq}$)")
        ax.legend(loc="upper left", fontsize=5.5)
        ax.set_xlabel("bars at the floor: z_eq = 0. Broken DLN G1, G3 and cos-net G1 stay 0: their hidden\n"
                      "layers have mean 0, so the last-layer mean does not reach the odd correlators", fontsize=6)
        plotting.panel_label(ax, "a", "output O(D) invariance")

        ax = axes[1]
        epochs = sorted({r["epoch"] for r in brk})
        early = epochs[-3] if len(epochs) >= 3 else epochs[0]  # where the shifts differ most
        colors = {"one-hot": plotting.PALETTE["measured"], "one-cold": plotting.PALETTE["balanced"]}
        for coding in ("one-hot", "one-cold"):
            for epoch, style in ((early, "o--"), (epochs[-1], "s-")):
                s, m, se = _accuracy_curve(brk, coding, epoch)
                ax.errorbar(s, m, yerr=se, fmt=style, color=colors[coding], ms=3.5, lw=0.9, capsize=2,
                            label=f"{coding}, epoch {epoch}")
        ax.axvline(0.0, color=plotting.PALETTE["level"], lw=0.7)
        ax.set_xlabel(r"initial output mean / targets' mean  ($<0$ away, $>0$ toward)")
        ax.set_ylabel("test accuracy")
        ax.legend(loc="center left", fontsize=5.5)
        plotting.panel_label(ax, "b", f"breaking the output symmetry ({brk[0]['dataset']})")
        return plotting.save(fig, out_dir, NAME, size=size)
