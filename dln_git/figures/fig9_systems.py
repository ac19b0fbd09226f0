"""Figure 9: a deep linear network read as a linear system (MATH.md section 5).

Computed
--------
* (a) Hankel singular values of the N = 2 network read as the realization ``(A, B, C) = (0, W_1, W_2)``
  (:func:`dln_git.systems.realization_from_weights`, square-root method), at the weights W and at a
  gauge-moved ``g.W`` far from balance, against the singular values of X (the prediction: the HSV
  are G-invariant and equal s(X)).
* (b) Balanced truncation error against the order k: the measured ``||G - G_k||_inf`` (frequency-grid
  estimate, :func:`dln_git.systems.balanced_truncation`) of the N = 2 network's realization and of a
  random stable continuous-time system, between the lower bound ``s_{k+1}`` and the a-priori bound
  ``2 sum_{j>k} s_j``; and ``||X - X_k||_2`` of a depth-4 network reduced by
  :func:`dln_git.systems.reduce_network` (balance, diagonalise each hidden Gramian pair, cut), which
  lands on the Eckart–Young value ``s_{k+1}(X)``.
"""

from __future__ import annotations

import numpy as np

import dln_git as dg
from dln_git import plotting

NAME = "fig9_systems"
SEED = 9

PARAMS = {
    "paper": {"d": 12, "n_sys": 40, "spread": 1.0},
    "smoke": {"d": 5, "n_sys": 10, "spread": 1.0},
}


def _network(d, N, rng):
    """X with singular values logspace(0, -3) and a balanced point of its fiber (SVD chart)."""
    U, V = dg.haar_orthonormal(d, d, rng), dg.haar_orthonormal(d, d, rng)
    X = (U * np.logspace(0, -3, d)) @ V.T
    return X, dg.balanced_from_end_to_end(X, (d,) * (N + 1), rng)


def compute(size: str = "paper") -> dict:
    from dln_git.systems import (
        balanced_truncation,
        hankel_singular_values,
        random_state_space,
        realization_from_weights,
        reduce_network,
    )

    from ._common import off_balance

    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    d = p["d"]
    X, Wbal = _network(d, 2, rng)
    W = off_balance(Wbal, rng, p["spread"])
    sx = np.linalg.svd(X, compute_uv=False)
    hsv_bal = hankel_singular_values(realization_from_weights(Wbal))
    hsv_moved = hankel_singular_values(realization_from_weights(W))
    mu_moved = dg.moment_norm(W) / (2 * dg.regularizer(W))

    ks = np.arange(1, d)
    net2 = [balanced_truncation(realization_from_weights(W), int(k)).error for k in ks]
    sysm = random_state_space(p["n_sys"], 2, 2, rng)
    trunc = [balanced_truncation(sysm, int(k)) for k in ks]
    _, W4 = _network(d, 4, rng)
    W4 = off_balance(W4, rng, p["spread"])
    deep = [reduce_network(W4, int(k)).error_2 for k in ks]
    return {
        "sx": sx, "hsv_bal": hsv_bal, "hsv_moved": hsv_moved, "mu_moved": mu_moved, "ks": ks,
        "net2": np.array(net2), "sys_err": np.array([t.error for t in trunc]),
        "sys_bound": np.array([t.bound for t in trunc]), "sys_hsv": trunc[0].hsv,
        "deep": np.array(deep),
    }


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    with plotting.style():
        fig, axes = plotting.figure(ncols=2, figsize="wide_tall")
        ax = axes[0]
        j = np.arange(1, data["sx"].size + 1)
        plotting.prediction_line(ax, j, data["sx"], label=r"singular values $s_j(X)$")
        ax.semilogy(j, data["hsv_bal"], "o", color=plotting.PALETTE["balanced"], ms=5, mfc="none",
                    label="HSV of $(0, W_1, W_2)$, $W$ balanced")
        ax.semilogy(j, data["hsv_moved"], "x", color=plotting.PALETTE["measured"], ms=5,
                    label=rf"HSV at $g.W$ ($\|\mu\|/2R$ = {data['mu_moved']:.2f})")
        ax.set_xlabel("index $j$")
        ax.set_ylabel("Hankel singular value")
        ax.legend(loc="lower left", fontsize=6)
        plotting.panel_label(ax, "a", "N = 2 network as a realization")

        ax = axes[1]
        ks = data["ks"]
        sh = data["sys_hsv"]
        tail = np.array([2 * sh[k:].sum() for k in ks])
        ax.fill_between(ks, sh[ks], tail, color=plotting.PALETTE["level"], alpha=0.25, lw=0,
                        label=r"random system: $[s_{k+1},\ 2\sum_{j>k} s_j]$")
        ax.semilogy(ks, data["sys_err"], "s-", color=plotting.PALETTE["secondary"], ms=3.5, lw=0.8,
                    label=rf"random system ($n$ = {sh.size}): measured $\|G-G_k\|_\infty$")
        plotting.prediction_line(ax, ks, data["sx"][ks], label=r"$s_{k+1}(X)$ (Eckart–Young; N = 2, 4 share s(X))")
        ax.semilogy(ks, data["net2"], "o", color=plotting.PALETTE["balanced"], ms=5, mfc="none",
                    label=r"N = 2 network: measured $\|G-G_k\|_\infty$")
        ax.semilogy(ks, data["deep"], "x", color=plotting.PALETTE["measured"], ms=5,
                    label=r"N = 4 network, reduce_network: $\|X-X_k\|_2$")
        ax.set_yscale("log")
        ax.set_xlabel("order $k$")
        ax.set_ylabel("truncation error")
        ax.legend(loc="lower left", fontsize=5.6)
        plotting.panel_label(ax, "b", "balanced truncation")
        return plotting.save(fig, out_dir, NAME, size=size)
