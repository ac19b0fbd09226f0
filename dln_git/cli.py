"""Command line: ``dln-git verify`` (the registered claims of MATH.md)."""

from __future__ import annotations

import argparse
import sys

from .claims import SIZES, all_claims, get_claim, run_claim


def _fmt(x) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f"{x:.3g}" if x == int(x) and abs(x) < 1e6 else f"{x:.3e}"


def _verify(args) -> int:
    try:
        claims = all_claims() if not args.claim else [get_claim(c) for c in args.claim]
    except KeyError as exc:
        print(f"dln-git verify: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        for c in claims:
            print(f"{c.id:<28} §{c.section:<4} [{c.tag}] {c.statement}")
        return 0
    print(f"dln-git verify: {len(claims)} claims, seed {args.seed}, size {args.size}")
    failures = 0
    for claim in claims:
        run = run_claim(claim, seed=args.seed, size=args.size)
        if run.result is not None:
            r = run.result
            figures = f"measured {_fmt(r.measured)}  expected {_fmt(r.expected)}  tol {_fmt(r.tolerance)}"
        else:
            figures = "raised an exception"
        print(f"{run.verdict:<5} {claim.id:<28} {figures}  ({run.seconds:.2f} s)")
        print(f"      §{claim.section} [{claim.tag}] {claim.statement}")
        if run.result is not None and run.result.detail:
            print(f"      {run.result.detail}")
        if run.error is not None:
            print("      " + run.error.rstrip().replace("\n", "\n      "))
        failures += not run.passed
    print(f"{len(claims) - failures} passed, {failures} failed")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dln-git",
        description="Parameter-space symmetry of deep linear networks: verify the claims of MATH.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="run the registered claims and report measured vs expected")
    verify.add_argument("--claim", nargs="+", metavar="ID", help="claim ids to run (default: all)")
    verify.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    verify.add_argument("--size", choices=SIZES, default="small", help="instance size (default small)")
    verify.add_argument("--list", action="store_true", help="list the claims instead of running them")
    verify.set_defaults(func=_verify)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
