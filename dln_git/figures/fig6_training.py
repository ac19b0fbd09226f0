"""Figure 6: a training run decomposed: loss, ``||mu||``, vertical and horizontal speeds, with and without
regularization.

Computed
--------
Matrix completion (:class:`dln_git.decomposition.MatrixCompletion`): ``Y = U diag(3, 2, 1) V^T``
(``d x d``, Haar U, V), about 40 % of its entries observed, a network of depth N = 4 and widths d
from a small Gaussian start (``dln_git.random_weights(..., scale=0.1)``), trained by gradient descent
``W <- W - eta (grad_W E + lam W)`` (:func:`dln_git.decomposition.train`, ``method="gd"``) for each
lam, recorded every ``record_every`` steps at the times ``t = k eta``:

* (a) the loss ``L = E + lam R`` (solid) and the data loss ``E`` (dashed, lam > 0);
* (b) the recovery error ``||X - Y|| / ||Y||`` on all entries;
* (c) ``||mu_k||`` with the prediction;
* (d) the speeds of the split of ``-grad L``: ``||Pi_H||`` (lines) and ``||Pi_V||`` (markers, from an
  independent split of the whole velocity by :func:`dln_git.decomposition.split_training_velocity` at
  every ``check_every``-th record; lam = 0 at its solver floor, drawn at the bottom of the axis when
  exactly zero), with the prediction for the vertical part;
* (e) the gradient flow (``method="flow"``) of a small completion problem (widths (4,4,4,4), order-one
  imbalance) for several lam: ``||mu(t)|| / ||mu(0)||`` on the lines ``e^{-2 lam t}``;
* (f) the three largest singular values of X against the target's (3, 2, 1) (a guide): with small
  initialization the strongest regularization learns only the leading mode within the run (a mode
  whose initial component is below the weight-decay threshold shrinks instead of growing), which is
  why its recovery error in (b) stalls.

The speeds in (d) come from end-to-end metric solves (conjugate gradients) that lose accuracy near
low-rank weights: the ``ConvergenceWarning`` they raise there (relative residual a few 1e-9 against
the requested 1e-9 of :data:`dln_git.decomposition.train.SPEED_RTOL`, 1e-12 in the split) is caught
and counted (``compute()["unconverged_solves"]``), not shown: the markers agree with the prediction
to about 1e-4 relative regardless.

Predictions drawn (MATH.md section 4):

* GD, [derived]: ``mu_{k+1} = (1 - eta lam)^2 mu_k + eta^2 (g_i g_i^* - g_{i+1}^* g_{i+1})``, so
  ``||mu_k|| = (1 - eta lam)^{2k} ||mu_0||`` up to the ``eta^2`` drift (visible once the gradients are
  large, and where the decayed ``mu`` is comparable to it);
* the vertical part of ``-grad L`` is exactly ``-lam Pi_V(W)`` (the data gradient is horizontal), so
  ``||Pi_V(grad L)|| = lam ||Pi_V(W)||`` and 0 without regularization [paper];
* gradient flow, [derived]: ``mu(W(t)) = e^{-2 lam t} mu(W(0))`` exactly, for any loss.
"""

from __future__ import annotations

import warnings

import numpy as np

import dln_git as dg
from dln_git import plotting
from dln_git.core.errors import ConvergenceWarning
from dln_git.decomposition import MatrixCompletion, split_training_velocity, train

NAME = "fig6_training"
SEED = 6

#: Colours of the GD runs, by position in ``lams`` (lam = 0 first).
LAM_COLORS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7")

PARAMS = {
    "paper": {"d": 32, "depth": 4, "spectrum": (3.0, 2.0, 1.0), "observed": 0.4, "scale": 0.1, "eta": 0.05,
              "steps": 5000, "record_every": 50, "lams": (0.0, 1e-3, 1e-2), "check_every": 10,
              "flow_widths": (4, 4, 4, 4), "flow_spectrum": (2.0, 1.0), "flow_observed": 0.6,
              "flow_lams": (0.0, 0.25, 0.5, 1.0), "t_flow": 4.0, "flow_points": 41, "rtol": 1e-10},
    "smoke": {"d": 12, "depth": 4, "spectrum": (3.0, 2.0, 1.0), "observed": 0.4, "scale": 0.1, "eta": 0.05,
              "steps": 1000, "record_every": 50, "lams": (0.0, 1e-2), "check_every": 10,
              "flow_widths": (3, 3, 3), "flow_spectrum": (2.0, 1.0), "flow_observed": 0.6,
              "flow_lams": (0.0, 0.5), "t_flow": 2.0, "flow_points": 11, "rtol": 1e-8},
}


def completion_problem(d: int, spectrum, observed: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """``Y = U diag(spectrum) V^T`` (``d x d``, Haar U, V) and a mask observing each entry with probability
    ``observed``."""
    s = np.asarray(spectrum, dtype=float)
    U = dg.haar_orthonormal(d, s.size, rng)
    V = dg.haar_orthonormal(d, s.size, rng)
    mask = rng.random((d, d)) < observed
    return U @ np.diag(s) @ V.T, mask


def gd_prediction(mu0: float, eta: float, lam: float, steps) -> np.ndarray:
    """``(1 - eta lam)^{2k} ||mu_0||``: the GD law without its ``eta^2`` drift."""
    return (1.0 - eta * lam) ** (2.0 * np.asarray(steps, dtype=float)) * mu0


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    Y, mask = completion_problem(p["d"], p["spectrum"], p["observed"], rng)
    loss = MatrixCompletion(Y, mask)
    W0 = dg.random_weights((p["d"],) * (p["depth"] + 1), rng, scale=p["scale"])
    runs, unconverged_solves = [], 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for lam in p["lams"]:
            res = train(W0, loss, lam=lam, method="gd", eta=p["eta"], steps=p["steps"],
                        record_every=p["record_every"], record_weights=True)
            if not res.converged:
                raise RuntimeError(f"{NAME}: GD with lam = {lam:g} failed: {res.message}")
            picks = np.arange(0, len(res.times), p["check_every"])
            split_v = np.array([split_training_velocity(res.trajectory[k], loss, lam).vertical_speed for k in picks])
            runs.append({
                "lam": lam, "t": res.times, "k": res.step_index, "loss": res.loss, "data_loss": res.data_loss,
                "error": np.linalg.norm(res.X - Y, axis=(1, 2)) / np.linalg.norm(Y),
                "mu": res.mu_norm, "vertical": res.vertical_speed, "horizontal": res.horizontal_speed,
                "sv": np.linalg.svd(res.X, compute_uv=False)[:, : len(p["spectrum"])],
                "t_check": res.times[picks], "split_vertical": split_v,
            })
        unconverged_solves = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        for w in caught:  # anything else is shown as usual
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    # the gradient flow on a small instance with an order-one imbalance
    Ys, masks = completion_problem(p["flow_widths"][0], p["flow_spectrum"], p["flow_observed"], rng)
    small = MatrixCompletion(Ys, masks)  # square: the flow widths start and end with the same d
    Ws = dg.random_weights(p["flow_widths"], rng)
    t_eval = np.linspace(0.0, p["t_flow"], p["flow_points"])
    flows = []
    for lam in p["flow_lams"]:
        res = train(Ws, small, lam=lam, method="flow", t_final=p["t_flow"], t_eval=t_eval, rtol=p["rtol"],
                    speeds=False)
        if not res.converged:
            raise RuntimeError(f"{NAME}: gradient flow with lam = {lam:g} failed: {res.message}")
        flows.append({"lam": lam, "t": res.times, "ratio": res.mu_norm / res.mu_norm[0]})
    return {"runs": runs, "flows": flows, "params": p, "unconverged_solves": unconverged_solves,
            "mu0": runs[0]["mu"][0]}


def _lam_label(lam: float) -> str:
    if lam == 0:
        return r"$\lambda = 0$"
    exponent = np.log10(lam)
    if np.isclose(exponent, round(exponent)):
        return rf"$\lambda = 10^{{{round(exponent)}}}$"
    return rf"$\lambda = {lam:g}$"


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    p, runs, flows = data["params"], data["runs"], data["flows"]
    eta = p["eta"]
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, nrows=2, figsize=(7.0, 4.9))
        handles = []
        for i, run in enumerate(runs):
            color = LAM_COLORS[i % len(LAM_COLORS)]
            t = run["t"]
            (line,) = axes[0].semilogy(t, run["loss"], color=color, label=_lam_label(run["lam"]))
            handles.append(line)
            if run["lam"]:
                axes[0].semilogy(t, run["data_loss"], color=color, ls="--", lw=0.8)
            axes[1].semilogy(t, run["error"], color=color)
            axes[2].semilogy(t, run["mu"], color=color)
            plotting.prediction_line(axes[2], t, gd_prediction(run["mu"][0], eta, run["lam"], run["k"]), lw=0.9)
            axes[3].semilogy(t, run["horizontal"], color=color, lw=0.9)
            if run["lam"]:
                plotting.prediction_line(axes[3], t, run["vertical"], lw=0.9)
            for sv in run["sv"].T:
                axes[5].plot(t, sv, color=color, lw=0.9)

        # (a) loss
        styles = [axes[0].plot([], [], color="gray", ls="-", label=r"$L = E + \lambda R$")[0],
                  axes[0].plot([], [], color="gray", ls="--", lw=0.8, label=r"$E$ ($\lambda > 0$)")[0]]
        axes[0].set_xlabel(r"$t = k\eta$")
        axes[0].set_ylabel("loss")
        axes[0].legend(handles=styles, loc="lower left", fontsize=5.8)
        plotting.panel_label(axes[0], "a", f"GD, completion d = {p['d']}, N = {p['depth']}")

        # (b) recovery error
        axes[1].set_xlabel(r"$t = k\eta$")
        axes[1].set_ylabel(r"$\|X - Y\| / \|Y\|$")
        final = "\n".join(f"{_lam_label(r['lam'])}: {r['error'][-1]:.0e}" for r in runs)
        plotting.note(axes[1], f"at the end\n{final}", loc="lower left")
        plotting.panel_label(axes[1], "b", "recovery error")

        # (c) moment map along GD
        pred = plotting.prediction_line(axes[2], [], [], label=r"$(1 - \eta\lambda)^{2k}\,\|\mu_0\|$")
        axes[2].set_xlabel(r"$t = k\eta$")
        axes[2].set_ylabel(r"$\|\mu(W_k)\|$")
        drift = max(abs(r["mu"][-1] - gd_prediction(r["mu"][0], eta, r["lam"], r["k"][-1])) for r in runs)
        blank = axes[2].plot([], [], ls="none")[0]
        labels = [pred.get_label() + rf", $\eta = {eta:g}$",
                  rf"$\eta^2$ drift at the end $\leq$ {drift / data['mu0']:.0e} $\|\mu_0\|$"]
        axes[2].legend(handles=[pred, blank], labels=labels, loc="lower left", fontsize=5.8)
        lowest = min(min(r["mu"].min(), gd_prediction(r["mu"][0], eta, r["lam"], r["k"][-1])) for r in runs)
        axes[2].set_ylim(bottom=0.25 * lowest)  # room for the legend below the lines
        plotting.panel_label(axes[2], "c", r"$\|\mu\|$ along GD")

        # (d) speeds
        ax = axes[3]
        bottom = None
        positive = [v for r in runs for v in np.concatenate([r["split_vertical"], r["horizontal"]]) if v > 0]
        if positive:
            bottom = 0.3 * min(positive)
        for i, run in enumerate(runs):
            color = LAM_COLORS[i % len(LAM_COLORS)]
            v = run["split_vertical"]
            floor = np.where(v > 0, v, bottom if bottom is not None else 1e-300)
            ax.semilogy(run["t_check"], floor, "o", color=color, ms=3.2, mfc="none" if run["lam"] == 0 else color,
                        mew=0.7)
        hline = ax.plot([], [], color="gray", lw=0.9, label=r"$\|\Pi_H(\nabla L)\|$")[0]
        vmark = ax.plot([], [], "o", color="gray", ms=3.2, label=r"$\|\Pi_V(\nabla L)\|$ (split)")[0]
        handles_d = [hline, vmark]
        lam0 = [r for r in runs if r["lam"] == 0]
        if lam0:
            handles_d.append(ax.plot([], [], "o", color=LAM_COLORS[0], ms=3.2, mfc="none", mew=0.7,
                                     label=r"$\lambda = 0$: solver floor")[0])
        handles_d.append(plotting.prediction_line(ax, [], [], label=r"$\lambda\,\|\Pi_V(W)\|$", lw=0.9))
        ax.legend(handles=handles_d, loc="center right", fontsize=5.6)
        ax.set_xlabel(r"$t = k\eta$")
        ax.set_ylabel("speed")
        plotting.panel_label(ax, "d", "vertical and horizontal speeds")

        # (e) gradient flow, small instance
        ax = axes[4]
        colors = plotting.cycle_colors(len(flows), "viridis", 0.0, 0.8)
        worst = 0.0
        for flow, color in zip(flows, colors, strict=True):
            t, ratio = flow["t"], flow["ratio"]
            ax.semilogy(t, ratio, "o", color=color, ms=3.0, label=_lam_label(flow["lam"]))
            tt = np.linspace(0.0, t[-1], 200)
            plotting.prediction_line(ax, tt, np.exp(-2.0 * flow["lam"] * tt), lw=0.9)
            worst = max(worst, float(np.max(np.abs(ratio * np.exp(2.0 * flow["lam"] * t) - 1.0))))
        plotting.prediction_line(ax, [], [], label=r"$e^{-2\lambda t}$")
        ax.set_ylim(1e-6, 2.0)  # room for the legend below the lines
        ax.legend(loc="lower left", fontsize=5.6, title_fontsize=5.6, alignment="left",
                  title=f"widths {p['flow_widths']}, rtol {p['rtol']:.0e}\n"
                        rf"max $|\,\|\mu\| e^{{2\lambda t}} / \|\mu_0\| - 1|$ = {worst:.0e}")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(r"$\|\mu(W(t))\| / \|\mu(W(0))\|$")
        plotting.panel_label(ax, "e", "gradient flow")

        # (f) singular values of X
        ax = axes[5]
        t_end = runs[0]["t"][-1]
        for s in p["spectrum"]:
            plotting.guide_line(ax, [0.0, t_end], [s, s])
        ax.plot([], [], color=plotting.PALETTE["level"], ls=":", label=r"$s_k(Y)$ (guide)")
        ax.set_xlabel(r"$t = k\eta$")
        ax.set_ylabel(r"$s_k(X)$, $k \leq \mathrm{rank}\, Y$")
        # why the strongest weight decay never recovers Y: for an aligned mode
        # da/dt = N a (a^{1-2/N} (s - a) - lam), so from a small start a mode grows only if a^{1-2/N} s > lam
        lam_max = max(p["lams"])
        ax.legend(loc="center right", fontsize=5.8)
        why = rf"$\lambda$ = {lam_max:g}: a mode with" "\n" rf"$a^{{1-2/N}}(s - a) < \lambda$ shrinks to 0"
        ax.text(0.97, 0.11, why,
                transform=ax.transAxes, ha="right", va="bottom", fontsize=5.6, color="#333333",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        plotting.panel_label(ax, "f", "modes learned")

        fig.legend(handles, [h.get_label() for h in handles], loc="outside lower center", ncols=len(handles),
                   fontsize=6.5, title="GD runs (a)-(d), (f)", title_fontsize=6.5)
        return plotting.save(fig, out_dir, NAME, size=size)
