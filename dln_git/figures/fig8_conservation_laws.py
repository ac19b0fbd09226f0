"""Figure 8: number of conservation laws of linear-network gradient flows against the widths.

Computed
--------
For each width pattern, :func:`dln_git.symbolic.count_conservation_laws` (``"linear"``): the number
``D - dim Lie(V)(theta)`` of independent conservation laws (Marcotte–Gribonval–Peyré), from the rank
of iterated Lie brackets of the fields ``grad X_{kl}`` at a random point (with the exact integer
cross-check where ``D <= 40`` in the paper build), against the rank of the Jacobian of the moment-map
entries at the same point (``ConservationLawCount.expected``, from
:func:`dln_git.symbolic.moment_map_jacobian_rank`) and the number of entries
``sum_i d_i (d_i + 1) / 2`` of ``mu`` (symmetric ``mu_i``).

* (a) equal widths ``d`` and depth N = 2, 3, 4: the counts against d, with ``(N - 1) d (d + 1) / 2``;
* (b) unequal widths (funnels, stabilisers, bottlenecks, non-closed orbits, scalar sub-networks): the
  count, the moment-map Jacobian rank and the number of moment-map entries, per pattern.

Predictions drawn: the moment map is conserved (Noether, MATH.md section 4, [known]), so the count is
at least the number of functionally independent moment-map entries, ``(N - 1) d (d + 1) / 2`` for equal
widths; equality holds except for scalar sub-networks with two or more hidden layers (two width-1
layers at distance >= 3 with wider layers between, e.g. (1,2,2,1)), where the count is ``D - 1``
(:func:`dln_git.symbolic.count_conservation_laws`, Notes). Mismatches are drawn in red.
"""

from __future__ import annotations

import numpy as np

from dln_git import plotting

NAME = "fig8_conservation_laws"
SEED = 8

PATTERNS = (
    (3, 2, 1), (1, 2, 3), (4, 3, 2, 3, 4), (1, 2, 3, 3), (2, 3, 4, 4),
    (2, 4, 2), (1, 3, 1), (2, 4, 4, 2), (1, 2, 2),
    (3, 1, 3), (3, 2, 3), (4, 2, 4, 2),
    (2, 3, 4, 3, 2), (3, 4, 3, 3),
    (1, 2, 2, 1), (1, 3, 3, 1), (2, 1, 2, 2, 1),
)

PARAMS = {
    "paper": {"depths": (2, 3, 4), "d_max": {2: 6, 3: 6, 4: 5}, "patterns": PATTERNS, "exact": None},
    "smoke": {"depths": (2, 3), "d_max": {2: 3, 3: 2}, "patterns": ((3, 2, 1), (2, 4, 2), (1, 2, 2, 1)),
              "exact": False},
}


def _entries(widths) -> int:
    return sum(d * (d + 1) // 2 for d in widths[1:-1])


def compute(size: str = "paper") -> dict:
    from dln_git.symbolic import count_conservation_laws  # sympy: imported only when this figure is built

    p = PARAMS[plotting.check_size(size)]
    rng = np.random.default_rng(SEED)
    equal = {}
    for N in p["depths"]:
        rows = []
        for d in range(1, p["d_max"][N] + 1):
            c = count_conservation_laws((d,) * (N + 1), "linear", rng=rng, exact=p["exact"])
            rows.append((d, c.count, c.expected, c.D, c.exact_matches))
        equal[N] = rows
    patterns = [count_conservation_laws(w, "linear", rng=rng, exact=p["exact"]) for w in p["patterns"]]
    return {"equal": equal, "patterns": patterns}


def make(out_dir, *, size: str = "paper") -> list:
    data = compute(size)
    colors = dict(zip((2, 3, 4), ("#0072B2", "#009E73", "#D55E00"), strict=True))
    with plotting.style():
        fig, axes = plotting.figure(ncols=2, figsize=(7.0, 3.0))
        fig.get_layout_engine().set(wspace=0.02)
        ax = axes[0]
        for N, rows in data["equal"].items():
            d, count, expected, _D, _ex = (np.array(v) for v in zip(*rows, strict=True))
            dd = np.linspace(1, d.max(), 100)
            plotting.prediction_line(ax, dd, (N - 1) * dd * (dd + 1) / 2, lw=0.9)
            ax.plot(d, count, "o", color=colors[N], ms=4.5, label=f"N = {N}: $D - \\dim\\,\\mathrm{{Lie}}(V)$")
            ax.plot(d, expected, "x", color="black", ms=4.5, mew=0.8)
        ax.plot([], [], "x", color="black", ms=4.5, mew=0.8, label="rank of the moment-map Jacobian")
        plotting.prediction_line(ax, [], [], label=r"$(N-1)\,d(d+1)/2$")
        ax.set_xlabel(r"width $d$ (all layers)")
        ax.set_ylabel("number of conservation laws")
        ax.legend(loc="upper left", fontsize=5.8)
        plotting.panel_label(ax, "a", "equal widths")

        ax = axes[1]
        pats = data["patterns"]
        x = np.arange(len(pats))
        entries = np.array([_entries(c.widths) for c in pats])
        counts = np.array([c.count for c in pats])
        expected = np.array([c.expected for c in pats])
        D = np.array([c.D for c in pats])
        ax.bar(x, entries, width=0.7, color="#E8E8E8", edgecolor="#9A9A9A", lw=0.5,
               label=r"entries of $\mu$: $\sum_i d_i(d_i+1)/2$")
        ax.plot(x, D, "_", color="#7F7F7F", ms=8, mew=1.0, label="parameters D")
        ax.plot(x, expected, "x", color="black", ms=5, mew=0.9, label="rank of the moment-map Jacobian")
        ok = counts == expected
        ax.plot(x[ok], counts[ok], "o", color=plotting.PALETTE["l2"], ms=4.5, mfc="none", mew=1.0,
                label=r"$D - \dim\,\mathrm{Lie}(V)$ (= rank)")
        if np.any(~ok):
            ax.plot(x[~ok], counts[~ok], "o", color="#D62728", ms=4.5, mfc="none", mew=1.0,
                    label=r"$D - \dim\,\mathrm{Lie}(V)$ $\neq$ rank (scalar sub-network)")
        ax.set_xticks(x, ["(" + ",".join(map(str, c.widths)) + ")" for c in pats], rotation=60, ha="right",
                      fontsize=6)
        ax.set_ylabel("count")
        ax.set_xlabel("widths")
        ax.legend(loc="upper left", fontsize=5.6)
        ax.set_ylim(0, 1.45 * max(D.max(), entries.max()))
        checked = [c for c in pats if c.exact_matches is not None]
        if checked:
            agree = sum(bool(c.exact_matches) for c in checked)
            plotting.note(ax, f"exact integer cross-check: {agree}/{len(checked)} agree", loc="upper right")
        plotting.panel_label(ax, "b", "unequal widths")
        return plotting.save(fig, out_dir, NAME, size=size)
