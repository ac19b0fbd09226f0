"""Figure 5: the cost of balancing: ``||mu|| / ||mu(0)||`` reached against wall time, per method.

Computed
--------
Two instances: (a) a closed orbit (widths (3,3,3,3), cond(X) = 10, balanced by the SVD chart and
moved off balance by a random Hermitian gauge element) and (b) an orbit that is not closed (generic
Gaussian weights of widths (2,4,4,2)). For each method, every point is **one complete call from
W(0)**, timed with ``time.perf_counter`` around the call: the **median of five calls** (three for a
call that takes more than a second), with BLAS limited to **one thread** (``threadpoolctl``), against
``||mu||/||mu(0)||`` of the weights it returns. The absolute times belong to the machine that built
the figure (its processor, core count, BLAS and numpy version are printed on the figure and in the
saved table); the comparison between methods depends on it less:

* Newton: ``dln_git.balance(W, method="newton", max_iter=k)`` for k = 1, 2, ... (each call redoes
  the first k - 1 iterations, so the time of point k is the cost of k iterations; a call stopped by
  ``max_iter`` before convergence also computes the regime of W for its message, a few milliseconds
  that a converged call does not spend, so the time of the last points can dip);
* L2 flow: ``dln_git.l2_flow(W, t, mu_tol=target ||mu(0)||)`` for a sequence of targets;
* moment flow: ``dln_git.moment_flow(W, t_max, mu_tol=target ||mu(0)||, max_steps=...)`` for the same
  targets, until one is not reached within the step budget (non-closed orbits: ``||mu|| ~ C/t``);
* scipy reference: :func:`dln_git.testing.dense_flows.dense_l2_flow` (``solve_ivp`` RK45 on the
  flattened weights, the dense projection formed at every evaluation) run to
  ``t = log(1/target) / 2``.

No prediction of the theory is drawn (it says nothing about wall time); the L2 runs use its exact
rate ``e^{-2t}`` to choose their horizons, and every flow call is stopped by ``mu_tol``. At these small
sizes the dense scipy reference is cheaper per unit of accuracy than the matrix-free L2 flow (whose
steps pay for Gram solves in Python); the figure shows it as measured.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

import dln_git as dg
from dln_git import plotting
from dln_git.testing.dense_flows import dense_l2_flow

from ._common import Case, make_instance, with_spectrum

NAME = "fig5_balancing_cost"
SEED = 5

PARAMS = {
    "paper": {"targets": (1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-12), "newton_max": 25, "rtol": 1e-10,
              "moment_steps": 4000, "closed": (3, 3, 3, 3), "not_closed": (2, 4, 4, 2)},
    "smoke": {"targets": (1e-1, 1e-3), "newton_max": 3, "rtol": 1e-7, "moment_steps": 400,
              "closed": (2, 2, 2), "not_closed": (1, 2, 2)},
}


def _timed(fn, repeats: int = 5, slow: float = 1.0, slow_repeats: int = 3):
    """Median wall time of ``repeats`` calls of ``fn()`` (``slow_repeats`` if the first call takes
    more than ``slow`` seconds), and the output of the last call."""
    times, out = [], None
    for k in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if k + 1 >= slow_repeats and times[0] > slow:
            break
    return float(np.median(times)), out


def machine_note() -> str:
    """Where the times were measured: processor, logical cores, BLAS library and threads, numpy."""
    import os
    import platform

    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = [f"{i.get('internal_api', '?')} {i.get('version') or ''} ({i.get('num_threads', '?')} thread(s))"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return f"{cpu}, {os.cpu_count()} cores; BLAS {', '.join(dict.fromkeys(blas)) or '?'}; numpy {np.__version__}"


def measure(W, p) -> dict:
    """Time every method on W; returns ``{method: (seconds, errors)}``."""
    mu0 = dg.moment_norm(W)
    out = {}
    pts = []
    for k in range(1, p["newton_max"] + 1):
        sec, res = _timed(lambda k=k: dg.balance(W, method="newton", max_iter=k, tol=1e-14))
        pts.append((sec, res.mu_history[-1] / mu0))
        if res.converged or res.iterations < k:
            break
    out["newton"] = pts
    pts = []
    for target in p["targets"]:
        t_final = 0.5 * np.log(1 / target) + 0.5
        sec, res = _timed(lambda t_final=t_final, target=target: dg.l2_flow(
            W, t_final, mu_tol=target * mu0, rtol=p["rtol"]))
        pts.append((sec, res.mu_norm[-1] / mu0))
    out["l2"] = pts
    pts = []
    for target in p["targets"]:
        sec, res = _timed(lambda target=target: dg.moment_flow(
            W, 1e6, mu_tol=target * mu0, rtol=p["rtol"], max_steps=p["moment_steps"]))
        if res.mu_norm[-1] > 1.5 * target * mu0:
            break
        pts.append((sec, res.mu_norm[-1] / mu0))
    out["moment"] = pts
    pts = []
    for target in p["targets"]:
        t_final = 0.5 * np.log(1 / target)
        sec, res = _timed(lambda t_final=t_final: dense_l2_flow(W, np.array([0.0, t_final]), rtol=p["rtol"],
                                                                atol=1e-3 * p["rtol"]))
        pts.append((sec, dg.moment_norm(res.weights[-1]) / mu0))
    out["scipy"] = pts
    return out


def compute(size: str = "paper") -> dict:
    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    widths = p["closed"]
    r = min(widths)
    W_closed = with_spectrum(widths, np.geomspace(10.0, 0.1, r) ** 0.5 * 1.5, rng, spread=0.8)
    W_open = make_instance(Case("not closed", p["not_closed"]), rng, spread=0.8)
    panels = []
    with threadpool_limits(limits=1, user_api="blas"):
        note = machine_note()
        for label, W in ((f"closed orbit {widths}", W_closed), (f"orbit not closed {p['not_closed']}", W_open)):
            panels.append({"label": label, "mu0": dg.moment_norm(W), "closed": dg.regime(W).orbit_closed,
                           "results": measure(W, p)})
    return {"panels": panels, "machine": note}


_STYLE = {
    "newton": ("o", "geodesic Newton (balance, max_iter = k)"),
    "l2": ("s", "L2 fiber flow (l2_flow)"),
    "moment": ("^", "moment flow (moment_flow)"),
    "scipy": ("D", "scipy reference (solve_ivp, dense projection)"),
}


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    with plotting.style():
        fig, axes = plotting.figure(ncols=2, figsize=(7.0, 3.0))
        for ax, panel, letter in zip(axes, data["panels"], "ab", strict=True):
            for method, pts in panel["results"].items():
                if not pts:
                    continue
                sec, err = np.array(pts).T
                marker, label = _STYLE[method]
                ax.loglog(sec, np.maximum(err, 1e-17), marker=marker, ls="-", lw=0.9, ms=3.8,
                          color=plotting.PALETTE[method], label=label)
            ax.set_xlabel("wall time of the call [s] (median of 5)")
            ax.set_ylabel(r"$\|\mu\| / \|\mu(W(0))\|$ reached")
            ax.set_ylim(bottom=3e-18)
            plotting.panel_label(ax, letter, panel["label"])
            plotting.note(ax, rf"$\|\mu(W(0))\|$ = {panel['mu0']:.2g}", loc="lower right")
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncols=4, fontsize=6)
        fig.suptitle(f"measured on {data['machine']}", fontsize=6, color="#555555")
        return plotting.save(fig, out_dir, NAME, size=size)

