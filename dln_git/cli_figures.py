"""``dln-git figures``: rebuild the paper's figures (:mod:`dln_git.figures`), from any directory.

``--list`` prints each figure's name and first docstring line; ``--only NAME ...`` builds a
subset (unknown names are refused, naming the known ones); ``--out DIR`` is created and checked
writable before anything is built; ``--smoke`` builds the small, fast versions. Exit code 0 on
success, 1 when a build fails, 2 on usage errors, 130 on Ctrl-C (the files of the figure in
progress may be incomplete). :mod:`dln_git.cli` registers the subcommand through
:func:`add_parser`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

#: Exit codes, the same as :mod:`dln_git.cli`'s: usage error, Ctrl-C (128 + SIGINT).
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def add_parser(sub, func=None) -> argparse.ArgumentParser:
    """Add the ``figures`` subcommand to ``sub``, running ``func(args)`` (default :func:`run`)."""
    figures = sub.add_parser("figures", help="rebuild the paper figures")
    figures.add_argument("--only", nargs="+", metavar="NAME", help="figures to build (default: all)")
    figures.add_argument(
        "--out", type=Path, default=Path("figures"), metavar="DIR", help="output directory (default ./figures)"
    )
    figures.add_argument("--smoke", action="store_true", help="small, fast versions (a smoke test), not paper quality")
    figures.add_argument("--list", action="store_true", help="list the figures (name, first docstring line) and exit")
    figures.set_defaults(func=run if func is None else func)
    return figures


def _usage_error(flag: str, message: str) -> int:
    """One line on stderr in argparse's words, naming the argument; returns exit code 2."""
    print(f"dln-git figures: error: argument {flag}: {message}", file=sys.stderr)
    return EXIT_USAGE


def import_paper_figures():
    """The figures package, :mod:`dln_git.figures` (imported on demand: it needs matplotlib)."""
    return importlib.import_module("dln_git.figures")


def _output_directory_problem(out: Path) -> str | None:
    """Why figures cannot be written in ``out`` (created if missing), or None if they can: a
    file is created there and removed, as the build will."""
    if out.exists() and not out.is_dir():
        return f"{os.fspath(out)!r} exists and is not a directory"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        return f"cannot write in directory {os.fspath(out)!r}: {exc.strerror or exc}"
    return None


def run(args, import_paper_figures=import_paper_figures) -> int:
    """Run ``dln-git figures`` with the parsed ``args``; return the exit code.

    ``import_paper_figures`` returns the figures package (``FIGURES``, ``build``); it is a
    parameter so that :mod:`dln_git.cli` can pass its own (replaceable) reference.
    """
    try:
        paper_figures = import_paper_figures()
    except ImportError as exc:
        print(
            f"dln-git figures: cannot import dln_git.figures ({exc}); install the package's dependencies "
            "(matplotlib)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    known = list(paper_figures.FIGURES)
    if args.list:
        for name, module in paper_figures.FIGURES.items():
            doc = (module.__doc__ or "").strip().splitlines()
            print(f"{name:28s} {doc[0] if doc else ''}")
        return 0
    unknown = [name for name in args.only or () if name not in paper_figures.FIGURES]
    if unknown:
        return _usage_error(
            "--only", f"unknown figure(s) {', '.join(map(repr, unknown))}; known figures: {', '.join(known)}"
        )
    problem = _output_directory_problem(args.out)
    if problem is not None:
        return _usage_error("--out", problem)
    built: list[str] = []

    def log(line: str) -> None:
        built.append(line)
        print(line, file=sys.stderr, flush=True)

    total = len(set(args.only)) if args.only else len(known)
    try:
        paths = paper_figures.build(args.out, only=args.only, size="smoke" if args.smoke else "paper", log=log)
    except KeyboardInterrupt:
        print(
            f"dln-git figures: interrupted: {len(built)} of {total} figures built; the files of the figure in "
            "progress may be incomplete",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except OSError as exc:  # the file system, not the code: disk full, permissions changed meanwhile
        print(f"dln-git figures: cannot write the figures: {exc}", file=sys.stderr)
        return 1
    except Exception:
        print("dln-git figures: building the figures failed:\n" + traceback.format_exc(), file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
