"""``python -m dln_git.figures [--only NAME ...] [--out DIR] [--smoke] [--list]``: build the paper's figures."""

from __future__ import annotations

import argparse
import sys

from . import DEFAULT_OUT, FIGURES, build


def main(argv=None, *, prog: str = "python -m dln_git.figures") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"build only these figures ({', '.join(FIGURES)})")
    parser.add_argument("--out", default=None, metavar="DIR", help=f"output directory (default ./{DEFAULT_OUT})")
    parser.add_argument("--smoke", action="store_true", help="small, fast build (seconds per figure)")
    parser.add_argument("--list", action="store_true", help="list the figure names and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(FIGURES))
        return 0
    out = DEFAULT_OUT if args.out is None else args.out
    try:
        build(out, only=args.only, size="smoke" if args.smoke else "paper", log=print)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
