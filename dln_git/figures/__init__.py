"""The paper's figures, one module per figure, each computed from the library (nothing drawn from constants).

Every module has ``make(out_dir, *, size="paper"|"smoke") -> list[pathlib.Path]`` writing a PNG and
a PDF in the style of :mod:`dln_git.plotting`; ``size="smoke"`` runs a few small instances in
seconds (the test suite builds it), ``size="paper"`` the full statistics (up to about a minute per
figure on one core).

Build them with ``dln-git figures [--only NAME] [--out DIR] [--smoke] [--list]`` (from any
directory), ``python -m dln_git.figures`` or :func:`build`. In a clone of the repository,
``paper_figures/`` holds the committed paper-size build shown in the README
(``paper_figures/output/``) and ``python -m paper_figures`` rebuilds it (``--out
paper_figures/output``); the figure code is this package, installed with dln-git.
"""

from __future__ import annotations

import pathlib
from collections import OrderedDict
from collections.abc import Iterable

from dln_git.plotting import check_size

from . import (
    fig1_fiber,
    fig2_l2_rate,
    fig3_moment_flow,
    fig4_regularizer,
    fig5_balancing_cost,
    fig6_training,
    fig7_fast_slow,
    fig8_conservation_laws,
    fig9_systems,
    fig10_relu_learning_rate,
    fig11_noise_equilibria,
    fig12_staged_learning,
    fig13_burgers_shock,
    fig14_duality,
)

__all__ = ["DEFAULT_OUT", "FIGURES", "build"]

#: Where the figures are written when no ``--out`` is given (relative to the working directory,
#: so an installed package never writes into site-packages).
DEFAULT_OUT = pathlib.Path("figures")

#: Figure name -> module, in paper order.
FIGURES = OrderedDict(
    [
        ("fig1_fiber", fig1_fiber),
        ("fig2_l2_rate", fig2_l2_rate),
        ("fig3_moment_flow", fig3_moment_flow),
        ("fig4_regularizer", fig4_regularizer),
        ("fig5_balancing_cost", fig5_balancing_cost),
        ("fig6_training", fig6_training),
        ("fig7_fast_slow", fig7_fast_slow),
        ("fig8_conservation_laws", fig8_conservation_laws),
        ("fig9_systems", fig9_systems),
        ("fig10_relu_learning_rate", fig10_relu_learning_rate),
        ("fig11_noise_equilibria", fig11_noise_equilibria),
        ("fig12_staged_learning", fig12_staged_learning),
        ("fig13_burgers_shock", fig13_burgers_shock),
        ("fig14_duality", fig14_duality),
    ]
)


def _select(only) -> list[str]:
    if only is None:
        return list(FIGURES)
    names = [only] if isinstance(only, str) else list(only)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {', '.join(map(repr, unknown))}; the figures are: {', '.join(FIGURES)}")
    return [n for n in FIGURES if n in names]


def build(out_dir, *, only: str | Iterable[str] | None = None, size: str = "paper", log=None) -> list[pathlib.Path]:
    """Build the figures into ``out_dir``; return the written files (PNG and PDF of each figure).

    Parameters
    ----------
    out_dir : path
        Created if missing.
    only : str or iterable of str, optional
        Figure names (keys of :data:`FIGURES`); default all. An unknown name raises ``ValueError``
        listing the names, before anything is built.
    size : {"paper", "smoke"}
    log : callable, optional
        Called with one line per figure built (name, files, seconds), e.g. ``print``.
    """
    import time

    check_size(size)
    names = _select(only)
    out_dir = pathlib.Path(out_dir)
    paths: list[pathlib.Path] = []
    for name in names:
        start = time.perf_counter()
        written = [pathlib.Path(p) for p in FIGURES[name].make(out_dir, size=size)]
        paths.extend(written)
        if log is not None:
            log(f"{name}: {', '.join(p.name for p in written)} ({time.perf_counter() - start:.1f} s)")
    return paths
