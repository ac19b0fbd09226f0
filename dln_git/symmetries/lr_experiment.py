"""The learning-rate grid of MATH.md section 6.1: data set x initialisation x penalty weight x
seed x learning rate, run through :func:`dln_git.experiments.run_grid`, saved as a tidy table and
summarised from the table read back (largest stable learning rate per seed, and on how many seeds
the penalty widened it).

One row per run (:func:`lr_task`): the point (``dataset, init, arm, seed, lr, steps, spread,
batch_size``) and ``rho`` (the weight used), ``penalty_lr_bound = 1/(rho K_0)``,
``neuron_scale_init = K_0`` (:func:`neuron_scale`), ``stable, divergence_step, initial_loss,
loss_peak_ratio`` (``max_t E_t / E_0`` over the steps run), ``final_loss, test_loss,
test_accuracy, imbalance_init, imbalance_max, imbalance_final, imbalance_max_rel,
imbalance_final_rel, norm_growth`` (see
:class:`dln_git.symmetries.learning_rate.LRRun`; ``imbalance_max_rel = max_t max_j |D_j| /
||theta_0||^2``, ``imbalance_final_rel`` the same at the last step). The figure is
``dln_git/figures/fig10_relu_learning_rate.py``.

Measured result: see :data:`dln_git.symmetries.learning_rate.MEASURED`.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from ..core.options import Rule, check_options
from .homogeneous import HomogeneousNet, cross_entropy_loss_and_grad, mse_loss_and_grad
from .learning_rate import balanced_init, imbalanced_init, random_relu_net, train
from .lr_data import LRData, load_lr_data
from .neuron_torus import imbalance, neuron_sq_norms

__all__ = [
    "ARMS",
    "COLUMNS",
    "SETTINGS",
    "format_counts",
    "lr_points",
    "lr_task",
    "make_init",
    "neuron_scale",
    "penalty_weight",
    "run_lr_experiment",
    "summarize",
]

#: The columns of a row of the table, in order.
COLUMNS = (
    "dataset", "init", "arm", "seed", "lr", "steps", "spread", "batch_size", "rho", "penalty_lr_bound",
    "neuron_scale_init", "stable", "divergence_step", "initial_loss", "loss_peak_ratio", "final_loss", "imbalance_init",
    "imbalance_max", "imbalance_final", "imbalance_max_rel", "imbalance_final_rel", "norm_growth", "test_accuracy",
    "test_loss",
)


# ------------------------------------------------------------------------------------------------
#: The experiment's settings per data set: widths, steps, learning-rate grid, penalty weight.
SETTINGS = {
    "teacher": {"widths": (10, 32, 1), "data": {"n_train": 200, "n_test": 200}},
    "digits": {"widths": (64, 32, 10), "data": {"n_train": 1000}},
}


@functools.lru_cache(maxsize=8)
def _cached_data(name: str, data_seed: int, items: tuple) -> LRData:
    return load_lr_data(name, rng=data_seed, **dict(items))


def make_init(dataset: str, init: str, seed: int, spread: float, widths=None) -> HomogeneousNet:
    """The starting network of a grid point: He init (seeded) balanced, then rescaled if imbalanced."""
    (init,) = check_options(init=(init, Rule.choice("balanced", "imbalanced", what="the initialisation")))
    rng = np.random.default_rng([int(seed), 7])
    net = balanced_init(random_relu_net(widths or SETTINGS[dataset]["widths"], rng))
    return imbalanced_init(net, spread, rng) if init == "imbalanced" else net


#: The arm without penalty, the baseline every other arm is compared with.
NO_PENALTY = "none"
#: The arm whose weight is matched to the step: ``rho = 1 / (2 lr K_0)``.
CRITICAL = "critical"
#: The default arms: no penalty, three fixed weights, and the step-matched weight.
ARMS = (NO_PENALTY, "rho=0.01", "rho=0.1", "rho=1", CRITICAL)


def neuron_scale(net: HomogeneousNet) -> float:
    """``K_0 = max_j (||theta_in,j||^2 + ||w_out,j||^2)``: for one hidden layer the largest diagonal
    entry of the torus Gram operator K, the rate at which the penalty flow ``dD/dt = -2 rho K D``
    moves its fastest neuron."""
    ins, outs = neuron_sq_norms(net)
    return max(float(np.max(a + o)) for a, o in zip(ins, outs, strict=True))


def penalty_weight(arm: str, lr: float, k0: float) -> float:
    """The penalty weight of an arm: 0 for ``"none"``, ``x`` for ``"rho=x"``, and for ``"critical"``
    ``rho = 1/(2 lr K_0)``.

    Why ``critical``: one GD step on the penalty alone maps ``D_j`` to ``a_j (1 - lr rho D_j)^2 -
    o_j (1 + lr rho D_j)^2 = D_j (1 - 2 lr rho K_j) + O(D_j^2)`` (``a_j, o_j`` the squared norms,
    ``K_j = a_j + o_j``): the penalty's own step is stable iff ``lr rho K_j < 1``, and at
    ``lr rho K_0 = 1/2`` the stiffest neuron is balanced in about one step. A FIXED rho is capped by
    ``lr < 1/(rho K_0)`` and is slow below it, so it can widen the range only in a window.
    """
    if arm == NO_PENALTY:
        return 0.0
    if arm == CRITICAL:
        return 1.0 / (2.0 * lr * k0)
    if isinstance(arm, str) and arm.startswith("rho="):
        (rho,) = check_options(rho=(float(arm[4:]), Rule.nonnegative("the penalty weight")))
        return rho
    raise ValueError(f"arm = {arm!r} is not 'none', 'critical' or 'rho=<weight>'")


def lr_task(point: Mapping) -> dict:
    """Grid task: train one network and return the measured row.

    The point holds ``dataset`` ("teacher" | "digits"), ``init`` ("balanced" | "imbalanced"),
    ``arm`` (the penalty: "none", "rho=<weight>" or "critical", :func:`penalty_weight`), ``lr``,
    ``seed``, and optionally ``spread`` (default 1.5), ``steps`` (200), ``batch_size`` (None: full
    batch), ``data_seed`` (0), ``widths`` (a string "d0-d1-d2"; default :data:`SETTINGS`),
    ``blowup`` (10).
    """
    ds = point["dataset"]
    widths = tuple(int(w) for w in point["widths"].split("-")) if point.get("widths") else None
    data = _cached_data(ds, int(point.get("data_seed", 0)), tuple(sorted(SETTINGS[ds]["data"].items())))
    net = make_init(ds, point["init"], int(point["seed"]), float(point.get("spread", 1.5)), widths)
    lr, k0 = float(point["lr"]), neuron_scale(net)
    rho = penalty_weight(point.get("arm", NO_PENALTY), lr, k0)
    run = train(net, data, lr=lr, steps=int(point.get("steps", 200)), rho=rho,
                batch_size=point.get("batch_size"), rng=int(point["seed"]), blowup=float(point.get("blowup", 10.0)))
    row = {
        "rho": rho, "penalty_lr_bound": 1.0 / (rho * k0) if rho > 0 else math.inf, "neuron_scale_init": k0,
        "stable": run.stable, "divergence_step": run.divergence_step, "initial_loss": float(run.losses[0]),
        "loss_peak_ratio": float(np.max(run.losses) / run.losses[0]) if run.losses[0] > 0 else math.nan,
        "final_loss": run.final_loss if run.stable else math.nan,
        "imbalance_init": max(float(np.max(np.abs(d))) for d in imbalance(net)),
        "imbalance_max": run.imbalance_max, "imbalance_final": run.imbalance_final,
        "imbalance_max_rel": run.imbalance_max / run.sq_norm_init,
        "imbalance_final_rel": run.imbalance_final / run.sq_norm_init, "norm_growth": run.norm_growth,
    }
    if run.stable:
        if data.task == "classification":
            pred = np.argmax(run.net.forward(data.x_test), axis=0)
            row["test_accuracy"] = float(np.mean(pred == data.y_test))
            row["test_loss"] = cross_entropy_loss_and_grad(run.net, data.x_test, data.y_test)[0]
        else:
            row["test_accuracy"] = math.nan
            row["test_loss"] = mse_loss_and_grad(run.net, data.x_test, data.y_test)[0]
    else:
        row["test_accuracy"] = row["test_loss"] = math.nan
    return row


def lr_points(datasets=("teacher", "digits"), lrs=None, seeds=range(10), *, arms=ARMS,
              steps: int = 200, spread: float = 1.5, batch_size=None) -> list[dict]:
    """The grid: data set x init x penalty arm x seed x learning rate.

    ``arms`` (see :func:`penalty_weight`) must contain ``"none"``, the baseline every other arm is
    compared with; ``lrs`` default ``logspace(-3, 1, 17)`` (four per decade).
    """
    lrs = np.logspace(-3, 1, 17) if lrs is None else np.asarray(lrs, dtype=float)
    arms = tuple(arms)
    if NO_PENALTY not in arms:
        raise ValueError(f"arms must contain 'none' (the run without penalty), got {arms}")
    for arm in arms:
        penalty_weight(arm, 1.0, 1.0)
    return [{"dataset": ds, "init": init, "arm": arm, "seed": int(s), "lr": float(lr), "steps": int(steps),
             "spread": float(spread), "batch_size": batch_size}
            for ds in datasets for init in ("balanced", "imbalanced") for arm in arms
            for s in seeds for lr in lrs]


# ------------------------------------------------------------------------------------------------
# Summary
# ------------------------------------------------------------------------------------------------
def _edge(runs: list[dict]) -> float:
    """Largest lr such that every grid lr up to it is stable (0.0 if the smallest is not)."""
    best = 0.0
    for r in sorted(runs, key=lambda r: r["lr"]):
        if not r["stable"]:
            break
        best = r["lr"]
    return best


def summarize(rows: Sequence[Mapping]) -> dict:
    """Largest stable learning rate per (dataset, init, arm, seed) and the penalty's effect.

    Returns ``{"edges": {(dataset, init, arm): {seed: lr_max}}, "counts": {(dataset, init, arm):
    {"wider": k, "same": k, "narrower": k, "seeds": n, "median_ratio": r}}}`` for every arm other
    than "none": "wider" counts the seeds whose largest stable rate (every grid rate up to it
    stable) is larger with the penalty than without (same data set, init and seed);
    ``median_ratio`` is the median over seeds of (with penalty) / (without).
    """
    groups: dict = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["init"], str(r["arm"]), int(r["seed"]))].append(r)
    edges: dict = defaultdict(dict)
    for (ds, init, arm, seed), runs in groups.items():
        edges[(ds, init, arm)][seed] = _edge(runs)
    counts = {}
    for ds, init, arm in sorted(k for k in edges if k[2] != NO_PENALTY):
        off, on = edges.get((ds, init, NO_PENALTY), {}), edges[(ds, init, arm)]
        seeds = sorted(set(off) & set(on))
        ratios = [on[s] / off[s] if off[s] > 0 else math.inf for s in seeds]
        counts[(ds, init, arm)] = {
            "wider": sum(on[s] > off[s] for s in seeds), "same": sum(on[s] == off[s] for s in seeds),
            "narrower": sum(on[s] < off[s] for s in seeds), "seeds": len(seeds),
            "median_ratio": float(np.median(ratios)) if ratios else math.nan,
        }
    return {"edges": dict(edges), "counts": counts}


def format_counts(summary: Mapping) -> str:
    """The counts of :func:`summarize` as text lines, one per (dataset, init, arm)."""
    lines = []
    for (ds, init, arm), c in summary["counts"].items():
        lines.append(f"{ds:8s} {init:10s} {arm:9s} penalty widened the stable range on {c['wider']}/{c['seeds']} "
                     f"seeds, same {c['same']}, narrowed {c['narrower']}; median ratio {c['median_ratio']:.3g}")
    return "\n".join(lines)


def run_lr_experiment(points: Sequence[Mapping], path=None, *, jobs: int | None = None, executor=None,
                      progress: bool = True) -> list[dict]:
    """Run the grid (:func:`dln_git.experiments.run_grid`, process pool of ``jobs`` by default, or
    any ``concurrent.futures.Executor``) and, with ``path``, save the rows (``.csv``/``.json``)."""
    from ..experiments import run_grid, save_table

    rows = run_grid(lr_task, points, executor=executor, jobs=jobs, progress=progress, desc="learning-rate grid")
    if path is not None:
        save_table(rows, path)
    return rows
