"""``python -m paper_figures [--only NAME ...] [--out DIR] [--smoke] [--list]``, from the repository
root: build the paper's figures (the code is :mod:`dln_git.figures`; ``--out paper_figures/output``
rebuilds the committed build the README shows)."""

from __future__ import annotations

import sys

from dln_git.figures.__main__ import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m paper_figures"))
