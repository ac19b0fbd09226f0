"""The paper's figures as built: ``output/`` holds the committed paper-size build the README shows.

The figure code is :mod:`dln_git.figures` (installed with dln-git); this folder of the repository
is not installed. ``python -m paper_figures --out paper_figures/output`` rebuilds the committed
build from the repository root (the same as ``dln-git figures --out paper_figures/output``).
"""

from __future__ import annotations

import pathlib

from dln_git.figures import DEFAULT_OUT, FIGURES, build

__all__ = ["COMMITTED_OUT", "DEFAULT_OUT", "FIGURES", "build"]

#: The committed paper-size build shown in the README.
COMMITTED_OUT = pathlib.Path(__file__).resolve().parent / "output"
