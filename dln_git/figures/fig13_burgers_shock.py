"""Figure 13: Burgers shocks of the local entropy form at the predicted time (MATH.md section 6.3).

Computed
--------
* (a) The double well ``Lbar = (x^2 - 1)^2 / 4``: the inviscid gradient ``p = (x - y*)/t`` of the
  Hopf–Lax solution (:func:`dln_git.symmetries.local_entropy.hopf_lax`) before, at and after the
  predicted first shock time ``t* = 1``, and the viscous ``p = grad u`` of the Cole–Hopf local
  entropy (:func:`~dln_git.symmetries.local_entropy.local_entropy`, small nu) at the same times; the
  detected shock (:func:`dln_git.symmetries.shocks.shocks_1d`) marked with its left/right states.
* (b) Its characteristics ``x = y + t Lbar'(y)`` in the (x, t) plane: they first cross at t* = 1
  (dashed), where the detected shock path (dots) starts.
* (c) A convex loss ``(x - 1/2)^2 / 2 + x^4 / 8``: characteristics spread and never cross (t* = inf).
* (d) Random non-convex quartics: the first shock detected on the time grid 0.01, 0.02, ... against
  the prediction ``t* = 1 / max(0, -inf Lbar'')`` (run through ``run_grid``, saved as a tidy table
  and drawn from the table read back).
"""

from __future__ import annotations

import pathlib

import numpy as np

from dln_git import plotting
from dln_git.experiments import load_table, run_grid, save_table

NAME = "fig13_burgers_shock"
SEED = 13

PARAMS = {
    "paper": {"n": 2001, "instances": 40, "nu": 0.01, "n_x": 601, "chars": 41},
    "smoke": {"n": 601, "instances": 6, "nu": 0.02, "n_x": 201, "chars": 21},
}


def double_well(y):
    return (y**2 - 1) ** 2 / 4


def convex(y):
    return (y - 0.5) ** 2 / 2 + y**4 / 8


def _quartic_task(point: dict) -> dict:
    """One random non-convex quartic: predicted and detected first shock times."""
    from dln_git.symmetries.shocks import first_shock_time

    rng = np.random.default_rng([SEED, point["instance"]])
    a4, a3 = rng.uniform(0.1, 0.5), rng.uniform(-0.5, 0.5)
    a2 = 3 * a3**2 / (8 * a4) - rng.uniform(0.2, 1.0)
    lmin = 2 * a2 - 3 * a3**2 / (4 * a4)
    t_star, yc = 1 / -lmin, -a3 / (4 * a4)
    times = np.arange(1, 301) * 0.01  # a fixed grid of step 0.01: t* falls anywhere between its points
    fs = first_shock_time(lambda y: ((a4 * y + a3) * y + a2) * y**2, times, domain=(yc - 4, yc + 4),
                          n=point["n"], stop_at_first=True)
    return {"t_star": t_star, "detected": fs.time, "step": times[1] - times[0]}


def compute(out_dir, size: str = "paper") -> tuple[dict, pathlib.Path]:
    from dln_git.symmetries.local_entropy import hopf_lax, local_entropy
    from dln_git.symmetries.shocks import characteristics, shocks_1d

    p = PARAMS[plotting.check_size(size)]
    grid = dict(domain=(-3.5, 3.5), n=p["n"])
    x = np.linspace(-1.6, 1.6, p["n_x"])
    snaps = {}
    for t in (0.5, 1.0, 1.6):
        hl = hopf_lax(double_well, x, t, **grid)
        le = local_entropy(double_well, x, t, p["nu"], **grid)
        snaps[t] = (hl.p, le.p, shocks_1d(double_well, t, **grid))
    ys = np.linspace(-1.6, 1.6, p["chars"])
    ts = np.linspace(0.0, 2.0, 81)
    chars = np.array([characteristics(lambda y: y**3 - y, ys, t) for t in ts])
    chars_convex = np.array([characteristics(lambda y: (y - 0.5) + y**3 / 2, ys, t) for t in ts])
    path_t = ts[ts > 1.0]
    path = [shocks_1d(double_well, t, **grid) for t in path_t]
    path_x = np.array([s.position[0] if s.count else np.nan for s in path])
    rows = run_grid(_quartic_task, [{"instance": i, "n": p["n"]} for i in range(p["instances"])],
                    jobs=1, progress=False)
    table = save_table(rows, pathlib.Path(out_dir) / "tables" / f"{NAME}.csv")
    return {"x": x, "snaps": snaps, "ys": ys, "ts": ts, "chars": chars, "chars_convex": chars_convex,
            "path_t": path_t, "path_x": path_x, "nu": p["nu"]}, table


def make(out_dir, *, size: str = "paper") -> list:
    data, table_path = compute(out_dir, size)
    table = load_table(table_path)
    with plotting.style():
        fig, axes = plotting.figure(ncols=4, figsize=(7.0, 2.5))
        ax = axes[0]
        colors = plotting.cycle_colors(3, "viridis", 0.1, 0.75)
        for (t, (p0, pv, sh)), c in zip(data["snaps"].items(), colors, strict=True):
            tag = " = $t^*$" if t == 1.0 else ""
            ax.plot(data["x"], p0, color=c, lw=1.2, label=f"t = {t:g}{tag} (Hopf–Lax)")
            ax.plot(data["x"], pv, color=c, lw=0.7, ls="--")
            if sh.count:
                ax.plot([sh.position[0]] * 2, [sh.p_left[0], sh.p_right[0]], "o", color=c, ms=3)
        ax.plot([], [], color="#555555", lw=0.7, ls="--", label=rf"viscous, $\nu$ = {data['nu']:g}")
        ax.set_xlabel("$x$")
        ax.set_ylabel(r"$p = \partial_x u$")
        ax.legend(loc="upper left", fontsize=5.5)
        plotting.panel_label(ax, "a", "double well: p(x, t)")

        for ax, chars, title, letter in ((axes[1], data["chars"], "double well", "b"),
                                         (axes[2], data["chars_convex"], "convex: no shock", "c")):
            for k in range(chars.shape[1]):
                ax.plot(chars[:, k], data["ts"], color=plotting.PALETTE["measured"], lw=0.5, alpha=0.7)
            ax.set_xlim(-2.0, 2.0)
            ax.set_xlabel("$x = y + t\\,\\bar L'(y)$")
            ax.set_ylabel("$t$")
            plotting.panel_label(ax, letter, title)
        plotting.prediction_line(axes[1], [-2, 2], [1, 1], label=r"$t^* = 1/\max(0, -\inf \bar L'')$")
        axes[1].plot(data["path_x"], data["path_t"], ".", color=plotting.PALETTE["balanced"], ms=2.5,
                     label="detected shock")
        axes[1].legend(loc="upper right", fontsize=5.5)
        plotting.note(axes[2], r"$t^* = \infty$", loc="upper left")

        ax = axes[3]
        t_star = np.array([r["t_star"] for r in table], dtype=float)
        det = np.array([r["detected"] for r in table], dtype=float)
        step = np.array([r["step"] for r in table], dtype=float)
        ax.plot(t_star, (det - t_star) / step, "o", color=plotting.PALETTE["measured"], ms=3, mfc="none",
                label=f"{t_star.size} random quartics")
        lo, hi = t_star.min() * 0.9, t_star.max() * 1.1
        ax.fill_between([lo, hi], [0, 0], [1, 1], color=plotting.PALETTE["level"], alpha=0.25, lw=0,
                        label="predicted: within one step after $t^*$")
        ax.set_ylim(-0.3, 1.9)
        ax.set_xlabel("predicted $t^*$")
        ax.set_ylabel(r"(detected $-$ $t^*$) / time step")
        ax.legend(loc="upper right", fontsize=5.5)
        plotting.panel_label(ax, "d", "first shock time")
        return plotting.save(fig, out_dir, NAME, size=size)
