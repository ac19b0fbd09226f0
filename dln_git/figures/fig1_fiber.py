"""Figure 1: the fiber ``w_2 w_1 = x`` of the scalar network (widths (1, 1, 1)) and the two balancing flows.

Computed
--------
* (a) the plane ``(w_1, w_2)``: the fiber (both branches of the hyperbola), level sets of
  ``R = (w_1^2 + w_2^2)/2``, the balanced points ``±(sqrt x, sqrt x)`` (where the fiber touches the
  level set ``R = x = min R``), and the L2 flow and the squared-moment-map flow from several starts on
  the fiber, integrated by :func:`dln_git.l2_flow` and :func:`dln_git.moment_flow` and drawn as
  markers every ``dt`` (the fiber is one-dimensional, so both flows move along it; the spacing shows
  their speeds);
* (b) the position along the fiber ``u = log(w_1/w_2)`` against t, measured, with the closed forms;
* (c) ``|mu(t)| = |w_1^2 - w_2^2|`` against t, measured, with the closed forms.

Predictions drawn [derived here for N = 2 scalars, from MATH.md section 3]: with ``w_1 = ±sqrt(x) e^{u/2}``,
``w_2 = ±sqrt(x) e^{-u/2}``, ``mu = 2x sinh u``, ``R = x cosh u``;

* L2 flow ``dW/dt = -Pi_V(W)``: ``du/dt = -2 tanh u``, i.e. ``sinh u(t) = e^{-2t} sinh u(0)``
  (the exact rate ``mu(t) = e^{-2t} mu(0)`` of MATH.md);
* moment flow ``dW/dt = -A_W(mu)``: ``du/dt = -4x sinh u``, i.e. ``tanh(u/2) = e^{-4xt} tanh(u(0)/2)``
  (rate ``4x = 4 (1 - cos(pi/2)) s_min^{2/2}`` near balance, as MATH.md predicts; much faster than
  ``e^{-2t}`` far from it, where ``d|mu|/dt ~ -2 mu^2``).
"""

from __future__ import annotations

import numpy as np

import dln_git as dg
from dln_git import plotting

NAME = "fig1_fiber"

PARAMS = {
    "paper": {"x": 1.0, "starts": (0.25, 0.5, 2.2, 4.0, -0.3, -3.0), "t_final": 2.0, "dt": 0.05, "rtol": 1e-10},
    "smoke": {"x": 1.0, "starts": (0.3, 3.0, -2.0), "t_final": 1.0, "dt": 0.1, "rtol": 1e-6},
}


def predicted_u(u0: float, t: np.ndarray, x: float, flow: str) -> np.ndarray:
    """Closed-form ``u(t) = log(w_1/w_2)`` of the L2 (``"l2"``) or moment (``"moment"``) flow."""
    if flow == "l2":
        return np.arcsinh(np.exp(-2 * t) * np.sinh(u0))
    return 2 * np.arctanh(np.exp(-4 * x * t) * np.tanh(u0 / 2))


def compute(size: str = "paper") -> dict:
    """Integrate both flows from every start; return the trajectories and the closed forms."""
    p = PARAMS[plotting.check_size(size)]
    x = p["x"]
    t_eval = np.arange(0.0, p["t_final"] + 1e-12, p["dt"])
    runs = []
    for w1 in p["starts"]:
        W = (np.array([[w1]]), np.array([[x / w1]]))
        u0 = float(np.log(abs(w1) / abs(x / w1)))
        run = {"w1": w1, "u0": u0}
        for flow, fn in (("l2", dg.l2_flow), ("moment", dg.moment_flow)):
            res = fn(W, p["t_final"], t_eval=t_eval, record="weights", rtol=p["rtol"])
            pts = np.array([[w[0][0, 0], w[1][0, 0]] for w in res.trajectory])
            run[flow] = {
                "t": res.times,
                "w": pts,
                "u": np.log(np.abs(pts[:, 0] / pts[:, 1])),
                "mu": res.mu_norm,
                "x_drift": res.max_x_drift,
            }
        runs.append(run)
    return {"x": x, "runs": runs, "t": t_eval}


def _plane(ax, data, every: int):
    x = data["x"]
    lim = 1.15 * max(max(abs(r["w1"]), abs(x / r["w1"])) for r in data["runs"])
    lim = max(lim, 2.5 * np.sqrt(x))
    g = np.linspace(-lim, lim, 300)
    G1, G2 = np.meshgrid(g, g)
    levels = x * np.array([0.25, 1.0, 2.0, 4.0, 8.0, 16.0])
    levels = levels[levels < lim**2]
    cs = ax.contour(G1, G2, (G1**2 + G2**2) / 2, levels=levels, colors=plotting.PALETTE["level"], linewidths=0.5)
    ax.clabel(cs, fmt=lambda v: f"R={v:g}", fontsize=5)
    for sign in (1, -1):
        w1 = sign * np.geomspace(x / lim, lim, 400)
        ax.plot(w1, x / w1, color=plotting.PALETTE["fiber"], lw=1.2)
    r = np.sqrt(x)
    ax.plot([r, -r], [r, -r], "*", ms=10, color=plotting.PALETTE["balanced"], zorder=10,
            markeredgecolor="black", markeredgewidth=0.5)
    for run in data["runs"]:
        l2, mo = run["l2"], run["moment"]
        ax.plot(mo["w"][::every, 0], mo["w"][::every, 1], "s", ms=4.2, mfc="none", mew=0.7,
                color=plotting.PALETTE["moment"], zorder=7)
        ax.plot(l2["w"][::every, 0], l2["w"][::every, 1], "o", ms=2.2, color=plotting.PALETTE["l2"], zorder=8)
        ax.plot(*l2["w"][0], "X", ms=5.5, color="black", zorder=9)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="#BBBBBB", lw=0.5)
    ax.axvline(0, color="#BBBBBB", lw=0.5)
    ax.set_xlabel(r"$w_1$")
    ax.set_ylabel(r"$w_2$")
    plotting.panel_label(ax, "a", rf"markers every $\Delta t = {data['t'][every] - data['t'][0]:g}$")


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    x = data["x"]
    every = max(1, round(0.1 / (data["t"][1] - data["t"][0])))
    l2_kw = {"marker": "o", "ms": 2.4, "linestyle": "none", "color": plotting.PALETTE["l2"]}
    mo_kw = {"marker": "s", "ms": 3.4, "mfc": "none", "mew": 0.6, "linestyle": "none",
             "color": plotting.PALETTE["moment"]}
    # one prediction line per flow, each in its flow's colour (two identical black entries were ambiguous)
    theory = {flow: {**plotting.PREDICTION_STYLE, "linewidth": 0.8, "color": plotting.PALETTE[flow]}
              for flow in ("l2", "moment")}
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 3.2))
        _plane(axes[0], data, every)
        t_fine = np.linspace(0, data["t"][-1], 300)
        for run in data["runs"]:
            for flow, kw in (("l2", l2_kw), ("moment", mo_kw)):
                r = run[flow]
                u_th = predicted_u(run["u0"], t_fine, x, flow)
                axes[1].plot(r["t"][::every], r["u"][::every], **kw)
                axes[1].plot(t_fine, u_th, **theory[flow])
                axes[2].semilogy(r["t"][::every], np.maximum(r["mu"][::every], 1e-300), **kw)
                axes[2].plot(t_fine, 2 * x * np.abs(np.sinh(u_th)), **theory[flow])
        axes[1].set_xlabel(r"$t$")
        axes[1].set_ylabel(r"position on the fiber $u = \log(w_1/w_2)$")
        plotting.panel_label(axes[1], "b", "position along the fiber")
        axes[2].set_xlabel(r"$t$")
        axes[2].set_ylabel(r"$|\mu(t)| = |w_1^2 - w_2^2|$")
        plotting.panel_label(axes[2], "c", "moment map")
        plotting.note(axes[2], "L2: " + r"$|\mu(t)| = e^{-2t}|\mu_0|$" + "\nmoment: " + r"$2x\,|\sinh u(t)|$"
                      + r", rate $\to 4x$", loc="lower left")
        drift = max(r[f]["x_drift"] for r in data["runs"] for f in ("l2", "moment"))
        plotting.note(axes[2], rf"max $|w_2w_1 - x|/x$ = {drift:.0e}", loc="upper right")
        h = [
            axes[0].plot([], [], color=plotting.PALETTE["fiber"], lw=1.2)[0],
            axes[0].plot([], [], color=plotting.PALETTE["level"], lw=0.5)[0],
            axes[0].plot([], [], "*", ms=8, color=plotting.PALETTE["balanced"], mec="black", mew=0.5)[0],
            axes[0].plot([], [], "X", ms=5, color="black")[0],
            axes[0].plot([], [], **l2_kw)[0],
            axes[0].plot([], [], **mo_kw)[0],
            axes[0].plot([], [], **theory["l2"])[0],
            axes[0].plot([], [], **theory["moment"])[0],
        ]
        labels = [
            rf"fiber $w_2 w_1 = x = {x:g}$",
            r"level sets of $R = \frac{1}{2}(w_1^2 + w_2^2)$",
            r"balanced points $\pm(\sqrt{x}, \sqrt{x})$, $R = x = \min R$",
            "starts",
            r"L2 flow $\dot W = -\Pi_V(W)$ (l2_flow)",
            r"moment flow $\dot W = -A_W(\mu)$ (moment_flow)",
            r"theory, L2: $\sinh u = e^{-2t}\sinh u_0$",
            r"theory, moment: $\tanh\frac{u}{2} = e^{-4xt}\tanh\frac{u_0}{2}$",
        ]
        fig.legend(h, labels, loc="outside lower center", ncols=4, fontsize=6)
        return plotting.save(fig, out_dir, NAME, size=size)
