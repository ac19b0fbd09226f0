"""Command line: ``dln-git verify`` (the registered claims of MATH.md) and ``dln-git derive``
(moment map and Kempf–Ness conditions derived symbolically for given widths)."""

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


def _parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated integers like 2,3,2, got {text!r}") from None


def _derive(args) -> int:
    from .symbolic import count_conservation_laws, derive_moment_map, kempf_ness_conditions, to_latex

    widths = args.widths
    try:
        mu = derive_moment_map(widths, complex=args.complex)
        conditions = kempf_ness_conditions(widths, complex=args.complex)
    except (ValueError, TypeError) as exc:
        print(f"dln-git derive: {exc}", file=sys.stderr)
        return 2
    kind = "complex" if args.complex else "real"
    print(f"widths {widths} ({kind}); moment map mu_i = d/dt R(exp(t xi).W)|_0, read off as the dual of xi:")
    if args.latex:
        print(to_latex(tuple(mu)))
    for i, m in enumerate(mu if not args.latex else (), start=1):
        for a in range(m.shape[0]):
            for b in range(m.shape[1]):
                print(f"  mu_{i}[{a},{b}] = {m[a, b]}")
    if not mu:
        print("(depth 1: no hidden layer, no moment map)")
    print(f"Kempf–Ness conditions (balanced variety mu = 0), {len(conditions)} equations:")
    if args.latex:
        print(to_latex(conditions))
    else:
        for eq in conditions:
            print(f"  {eq} = 0")
    if args.laws:
        count = count_conservation_laws(widths, "linear", rng=args.seed)
        print(count)
    return 0


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
    derive = sub.add_parser("derive", help="derive the moment map and Kempf–Ness conditions symbolically")
    derive.add_argument("--widths", type=_parse_widths, required=True, help="widths d_0,...,d_N, e.g. 2,3,2")
    derive.add_argument("--complex", action="store_true", help="complex weights (U(d) instead of O(d))")
    derive.add_argument("--latex", action="store_true", help="print LaTeX")
    derive.add_argument("--laws", action="store_true", help="count the conservation laws (Lie-algebra rank)")
    derive.add_argument("--seed", type=int, default=0, help="seed of the random point for --laws")
    derive.set_defaults(func=_derive)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
