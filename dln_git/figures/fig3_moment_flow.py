"""Figure 3: the squared-moment-map flow ``dW/dt = -A_W(mu(W))``: exponential on closed orbits,
algebraic (``C/t``) on non-closed ones.

Computed
--------
* (a) closed orbits (equal widths N = 2, 3, 4; excess width (2,4,2); bottleneck (3,1,3)): instances
  with a prescribed spectrum of X (balanced by the SVD chart, then moved along the orbit by a random
  Hermitian gauge element), ``||mu(t)|| / ||mu(0)||`` along :func:`dln_git.moment_flow`, with the
  predicted asymptote ``C e^{-rate t}`` (rate predicted, C fitted on the last decade);
* (b) non-closed orbits ((2,4,4,2), (1,2,2), funnels (3,2,1), (4,3,2,3,4)): ``||mu(t)||`` on log-log
  axes with ``C/t`` (C = ``t ||mu||`` at the last time, printed in the legend);
* (c) the measured asymptotic rate (least-squares slope of ``-log ||mu||`` over the window where
  ``||mu|| / ||mu(0)||`` lies in ``window``) against the predicted one, for every instance.

Predictions drawn
-----------------
* equal widths, closed orbits: ``4 (1 - cos(pi/N)) s_min(X)^{2/N}`` (MATH.md section 3, [derived]);
* every closed orbit: ``2 lambda_min^+``, the smallest positive eigenvalue of ``s -> 2 Herm(A^* A s)``
  on Hermitian ``s`` at the balanced limit (computed with :func:`dln_git.gram_operator` at the Newton
  point). [derived here] Along the flow ``d mu/dt = 2 Herm(A_W^* dW) = -2 Herm(A_W^* A_W mu)``
  exactly (MATH.md section 3), and ``mu`` is orthogonal to the kernel, so ``||mu||`` decays at the
  slowest excited rate of the limiting operator. For equal widths its spectrum on the diagonal modes
  is ``2 s_k^{2/N} * 2(1 - cos(j pi/N))``, which gives the formula above; for the excess width
  (2,4,2) the slowest modes couple range and kernel of ``W_1`` and the rate is ``2 s_min(X)``, half
  the equal-width formula (the figure shows both agree with the measurement);
* non-closed orbits: ``||mu|| ~ C/t`` (MATH.md section 3, [derived]).
"""

from __future__ import annotations

import numpy as np

import dln_git as dg
from dln_git import plotting

from ._common import Case, make_instance, singular_values, with_spectrum

NAME = "fig3_moment_flow"
SEED = 3

CLOSED = ((3, 3, 3), (3, 3, 3, 3), (2, 2, 2, 2, 2), (2, 4, 2), (3, 1, 3))
NOT_CLOSED = ((2, 4, 4, 2), (1, 2, 2), (3, 2, 1), (4, 3, 2, 3, 4))

PARAMS = {
    "paper": {"closed": CLOSED, "instances": 3, "rtol": 1e-12, "window": (1e-13, 1e-11), "points": 240,
              "not_closed": NOT_CLOSED, "t_long": 300.0, "rtol_long": 1e-8},
    "smoke": {"closed": ((3, 3, 3), (2, 4, 2)), "instances": 1, "rtol": 1e-8, "window": (1e-7, 1e-4), "points": 60,
              "not_closed": ((1, 2, 2),), "t_long": 20.0, "rtol_long": 1e-6},
}


def formula_rate(W) -> float:
    """``4 (1 - cos(pi/N)) s_min(X)^{2/N}`` (MATH.md, closed orbits with equal widths)."""
    N = len(W)
    return 4 * (1 - np.cos(np.pi / N)) * singular_values(W)[-1] ** (2 / N)


def linearised_rate(W_limit) -> float:
    """``2 lambda_min^+(Herm o A^*A)`` on real symmetric tuples at the balanced point ``W_limit``."""
    dims = [w.shape[0] for w in W_limit[:-1]]
    basis = []
    for i, d in enumerate(dims):
        for j in range(d):
            for k in range(j, d):
                E = [np.zeros((m, m)) for m in dims]
                E[i][j, k] = E[i][k, j] = 1.0 if j == k else np.sqrt(0.5)
                basis.append(tuple(E))
    G = dg.gram_operator(W_limit)
    images = [G.apply_hermitian(E) for E in basis]
    M = np.array([[sum(float(np.sum(a * b)) for a, b in zip(img, F, strict=True)) for img in images] for F in basis])
    ev = np.linalg.eigvalsh(2 * (M + M.T) / 2)
    return float(np.min(ev[ev > 1e-8 * ev.max()]))


def measured_rate(t, ratio, window) -> float:
    """Least-squares slope of ``-log ratio`` over the points with ``window[0] <= ratio <= window[1]``."""
    sel = (ratio >= window[0]) & (ratio <= window[1])
    if sel.sum() < 3:
        return float("nan")
    return float(-np.polyfit(t[sel], np.log(ratio[sel]), 1)[0])


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    closed = []
    for widths in p["closed"]:
        for _ in range(p["instances"]):
            r = min(widths)
            s = rng.uniform(0.5, 1.2) * np.geomspace(1.0, 4.0, r)
            W = with_spectrum(widths, s, rng)
            limit = dg.balance(W, method="newton").weights
            lin = linearised_rate(limit)
            equal = len(set(widths)) == 1
            pred = formula_rate(W) if equal else lin
            # horizon: long enough to reach the bottom of the window at the predicted rate
            t_final = (np.log(1 / p["window"][0]) + 2.0) / pred
            t_eval = np.linspace(0, t_final, p["points"])
            res = dg.moment_flow(W, t_final, t_eval=t_eval, rtol=p["rtol"])
            ratio = res.mu_norm / res.mu_norm[0]
            closed.append({"widths": widths, "equal": equal, "t": res.times, "ratio": ratio,
                           "predicted": pred, "linearised": lin, "formula": formula_rate(W) if equal else None,
                           "measured": measured_rate(res.times, ratio, p["window"]),
                           "reached_t_final": res.reached_t_final})
    rng_nc = np.random.default_rng(SEED + 100)
    not_closed = []
    for widths in p["not_closed"]:
        W = make_instance(Case("not closed", widths), rng_nc)  # generic Gaussian layers: orbit not closed
        t_eval = np.concatenate([[0.0], np.geomspace(1e-2, p["t_long"], p["points"])])
        res = dg.moment_flow(W, p["t_long"], t_eval=t_eval, rtol=p["rtol_long"])
        not_closed.append({"widths": widths, "t": res.times, "mu": res.mu_norm, "reached_t_final": res.reached_t_final,
                           "C": float(res.times[-1] * res.mu_norm[-1])})
    return {"closed": closed, "not_closed": not_closed, "window": p["window"]}


def _label(widths) -> str:
    return "(" + ",".join(map(str, widths)) + ")"


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    colors = dict(zip(CLOSED, plotting.cycle_colors(len(CLOSED), "viridis", 0.0, 0.8), strict=True))
    nc_colors = dict(zip(NOT_CLOSED, ("#D55E00", "#E69F00", "#CC79A7", "#7F7F7F"), strict=True))
    with plotting.style():
        fig, axes = plotting.figure(ncols=3, figsize=(7.0, 2.9))
        ax = axes[0]
        shown = set()
        for run in data["closed"]:
            w = run["widths"]
            if w in shown:
                continue
            shown.add(w)
            t, ratio = run["t"], run["ratio"]
            N = len(w) - 1
            kind = f"N={N}" if run["equal"] else ("excess width" if max(w[1:-1]) > min(w) else "bottleneck")
            ax.semilogy(t, np.maximum(ratio, 1e-17), color=colors[w], lw=1.0, label=f"{_label(w)} {kind}")
            # asymptote C exp(-rate t), rate predicted, C fitted at the bottom of the window
            lo = data["window"][0]
            k = int(np.argmin(np.abs(np.log(np.maximum(ratio, 1e-300) / lo))))
            C = ratio[k] * np.exp(run["predicted"] * t[k])
            tt = t[t >= 0.25 * t[-1]]
            plotting.prediction_line(ax, tt, C * np.exp(-run["predicted"] * tt), lw=0.9)
        plotting.prediction_line(ax, [], [], label=r"$C e^{-\mathrm{rate}\, t}$, rate predicted")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(r"$\|\mu(t)\| / \|\mu(0)\|$")
        ax.set_ylim(bottom=max(1e-16, 0.1 * data["window"][0]))
        ax.legend(loc="upper right", fontsize=5.5)
        plotting.panel_label(ax, "a", "closed orbits")

        ax = axes[1]
        for run in data["not_closed"]:
            t, mu = run["t"][1:], run["mu"][1:]
            w = run["widths"]
            ax.loglog(t, mu, color=nc_colors.get(w, "#333333"), lw=1.0,
                      label=f"{_label(w)}: $t\\|\\mu\\| \\to$ {run['C']:.3f}")
            tt = t[t >= t[-1] / 300]
            plotting.prediction_line(ax, tt, run["C"] / tt, lw=0.9)
        plotting.prediction_line(ax, [], [], label=r"$C/t$")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(r"$\|\mu(t)\|$")
        ax.legend(loc="lower left", fontsize=5.5)
        plotting.panel_label(ax, "b", "orbits not closed")

        ax = axes[2]
        pred = np.array([r["predicted"] for r in data["closed"]])
        meas = np.array([r["measured"] for r in data["closed"]])
        for run in data["closed"]:
            w = run["widths"]
            marker = "o" if run["equal"] else "s"
            ax.plot(run["predicted"], run["measured"], marker, color=colors[w], ms=4, mec="black", mew=0.3)
        lims = [0.8 * np.nanmin([pred.min(), np.nanmin(meas)]), 1.2 * np.nanmax([pred.max(), np.nanmax(meas)])]
        plotting.prediction_line(ax, lims, lims, label="measured = predicted")
        ax.set_xlim(*lims)
        ax.set_ylim(lims[0], lims[0] + 1.45 * (lims[1] - lims[0]))  # room for the legend above the diagonal
        ax.plot([], [], "o", color="gray", mec="black", mew=0.3,
                label=r"equal widths: $4(1-\cos\frac{\pi}{N})\,s_{\min}^{2/N}$")
        ax.plot([], [], "s", color="gray", mec="black", mew=0.3,
                label=r"other closed: $2\lambda^+_{\min}(\mathrm{Herm}\,A^*A)$ at the limit")
        ax.set_xlabel("predicted rate")
        ax.set_ylabel(r"measured rate $-\frac{d}{dt}\log\|\mu\|$")
        rel = np.nanmax(np.abs(meas / pred - 1))
        eq = [r for r in data["closed"] if r["equal"]]
        agree = max((abs(r["linearised"] / r["formula"] - 1) for r in eq), default=0.0)
        stats = (f"{len(meas)} instances: max |measured/predicted - 1| = {rel:.1e}\n"
                 f"equal widths: formula vs $2\\lambda^+_{{\\min}}$ agree to {agree:.0e}")
        ax.legend(loc="upper left", fontsize=5.3, title=stats, title_fontsize=5.3, alignment="left")
        plotting.panel_label(ax, "c", "asymptotic rate")
        return plotting.save(fig, out_dir, NAME, size=size)
