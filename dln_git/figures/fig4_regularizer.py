"""Figure 4: the regularizer along both balancing flows converges to ``(N/2) sum_k s_k(X)^{2/N}``.

Computed
--------
For every width pattern of :data:`dln_git.figures._common.REGIME_CASES` and a few random instances
each (Gaussian layers moved off balance by a random Hermitian gauge element), ``R(W(t))`` along the
L2 fiber flow (:func:`dln_git.l2_flow`) and along the squared-moment-map flow
(:func:`dln_git.moment_flow`), and the predicted minimum ``Rmin = (N/2) sum_k s_k^{2/N}`` from the
singular values of X (:func:`dln_git.min_regularizer`).

* (a) L2 flow: ``(R(t) - Rmin) / Rmin`` against t (first instance of each pattern), with the rates
  ``e^{-4t}`` (closed orbits) and ``e^{-2t}`` (orbits not closed) anchored at the last point;
* (b) moment flow: the same on log-log axes; exponential on closed orbits (down to rounding), slow on
  the others, with a ``1/t`` guide (a measured trend, not a prediction of MATH.md). Algebraic decay
  starts late when the excess rank is nearly gone already: a hidden singular value ``sigma`` that must
  vanish in the limit (above rank X) shrinks like ``sigma^2 ~ sigma_0^2 / (1 + 2 sigma_0^2 t)``, so an
  instance drawn with a small ``sigma_0`` sits on a plateau for ``t << 1/sigma_0^2`` (the
  rank-deficient instance: ``sigma_0 ~ 7e-3``);
* (c) ``R`` at the end of every run against ``Rmin``: on the identity line.

Predictions drawn: ``min_{F_X} R = (N/2) sum_k s_k^{2/N}`` (MATH.md section 2, [known]/[derived]); the
L2 flow decreases R to it in every regime, ``R - Rmin ~ e^{-4t}`` on closed orbits and ``~ e^{-2t}``
on non-closed ones (MATH.md section 3, [derived]).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

import dln_git as dg
from dln_git import plotting

from ._common import REGIME_CASES, make_instance

NAME = "fig4_regularizer"
SEED = 4

PARAMS = {
    "paper": {"instances": 2, "t_l2": 8.0, "t_moment": 100.0, "points": 41, "rtol": 1e-9, "cases": None},
    "smoke": {"instances": 1, "t_l2": 3.0, "t_moment": 10.0, "points": 13, "rtol": 1e-6,
              "cases": ((3, 3, 3), (2, 4, 4, 2), (3, 2, 1))},
}


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    cases = [c for c in REGIME_CASES if p["cases"] is None or c.widths in p["cases"]]
    t_l2 = np.linspace(0.0, p["t_l2"], p["points"])
    t_mo = np.concatenate([[0.0], np.geomspace(1e-2, p["t_moment"], p["points"])])
    runs = []
    for case in cases:
        for k in range(p["instances"]):
            W = make_instance(case, rng)
            Rmin = dg.min_regularizer(dg.end_to_end(W), len(W))
            closed = dg.regime(W).orbit_closed
            l2 = dg.l2_flow(W, p["t_l2"], t_eval=t_l2, rtol=p["rtol"])
            mo = dg.moment_flow(W, p["t_moment"], t_eval=t_mo, rtol=p["rtol"])
            runs.append({"case": case, "first": k == 0, "Rmin": Rmin, "closed": closed,
                         "l2": (l2.times, l2.regularizer), "moment": (mo.times, mo.regularizer)})
    return {"runs": runs}


def make(out_dir, *, size: str = "paper") -> list:
    runs = compute(size)["runs"]
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 3.1))
        handles = {}
        patterns = list(dict.fromkeys(r["case"] for r in runs))
        colors = dict(zip(patterns, plotting.category_colors(len(patterns)), strict=True))  # one per width pattern
        for run in runs:
            if not run["first"]:
                continue
            case, Rmin = run["case"], run["Rmin"]
            color = colors[case]
            t, R = run["l2"]
            gap = np.maximum((R - Rmin) / Rmin, 1e-17)
            (line,) = axes[0].semilogy(t, gap, color=color, lw=0.9)
            handles.setdefault(f"{case.regime}: {case.label}", line)
            rate = 4.0 if run["closed"] else 2.0
            tt = t[t >= t[-1] / 2]
            plotting.prediction_line(axes[0], tt, gap[-1] * np.exp(-rate * (tt - t[-1])), lw=0.8)
            t, R = run["moment"]
            axes[1].loglog(t[1:], np.maximum((R[1:] - Rmin) / Rmin, 1e-17), color=color, lw=0.9,
                           ls="-" if run["closed"] else "--")
        p4 = plotting.prediction_line(axes[0], [], [], label=r"$\propto e^{-4t}$ (closed), $e^{-2t}$ (not closed)")
        axes[0].set_xlabel(r"$t$")
        axes[0].set_ylabel(r"$(R(W(t)) - R_{\min}) / R_{\min}$")
        axes[0].set_ylim(bottom=1e-15)
        axes[0].legend(handles=[p4], loc="upper right", fontsize=5.5)
        plotting.panel_label(axes[0], "a", "L2 flow")

        nc = [r for r in runs if r["first"] and not r["closed"]]
        if nc:
            t = nc[0]["moment"][0][1:]
            tt = t[t >= 1.0]
            top = max(float((r["moment"][1][-1] - r["Rmin"]) / r["Rmin"]) for r in nc)
            plotting.guide_line(axes[1], tt, top * t[-1] / tt, label=r"$\propto 1/t$ (guide)")
        axes[1].plot([], [], color="gray", lw=0.9, ls="-", label="orbit closed")
        axes[1].plot([], [], color="gray", lw=0.9, ls="--", label="orbit not closed")
        axes[1].set_xlabel(r"$t$")
        axes[1].set_ylabel(r"$(R(W(t)) - R_{\min}) / R_{\min}$")
        axes[1].set_ylim(bottom=1e-15)
        axes[1].legend(loc="lower left", fontsize=5.5)
        plotting.panel_label(axes[1], "b", "moment flow")

        ax = axes[2]  # the residual R/R_min - 1 at the end of each run (an identity plot hid the gap)
        errs = {"l2": [], "moment": []}
        for run in runs:
            color = colors[run["case"]]
            for flow, marker in (("l2", "o"), ("moment", "s")):
                gap = abs(run[flow][1][-1] / run["Rmin"] - 1)
                errs[flow].append(gap)
                ax.plot(run["Rmin"], max(gap, 1e-17), marker, color=color, ms=4 if flow == "l2" else 5.5,
                        mfc=color if flow == "l2" else "none", mew=0.7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
        ax.set_ylim(1e-17, 1e5)  # headroom above the points for the legend and the note
        l2h = ax.plot([], [], "o", color="gray", ms=4, label="L2 flow")[0]
        moh = ax.plot([], [], "s", color="gray", mfc="none", ms=5.5, label="moment flow")[0]
        ax.set_xlabel(r"predicted $R_{\min} = \frac{N}{2}\sum_k s_k^{2/N}$")
        ax.set_ylabel(r"$|R_{\mathrm{end}} / R_{\min} - 1|$")
        ax.legend(handles=[l2h, moh], loc="upper left", fontsize=5.5)
        t_l2_end = runs[0]["l2"][0][-1]
        t_mo_end = runs[0]["moment"][0][-1]
        plotting.note(ax, f"{len(runs)} instances\nmax |R/Rmin - 1|:\nL2 (t={t_l2_end:g}) {max(errs['l2']):.0e}\n"
                      f"moment (t={t_mo_end:g}) {max(errs['moment']):.0e}", loc="upper right")
        plotting.panel_label(ax, "c", "limit of R")
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=4, fontsize=5.8)
        return plotting.save(fig, out_dir, NAME, size=size)
