"""Command line ``dln-git``.

``dln-git verify``
    Run the registered claims of MATH.md (all by default, or ``--claim`` ids/globs such as
    ``'flows.*'``) on ``--seeds K`` random instances each, at ``--size small|medium|large``,
    serially or with ``--jobs J`` worker processes; print one block per claim (verdict, instances
    passed, worst measured vs expected and the tolerance, time, statement) and optionally write
    ``--report FILE.md`` (a Markdown report for a referee) or ``--report FILE.json`` (every
    instance). Exit code 0 when every claim passes, 1 when any fails or raises, 2 on usage
    errors. From Python, :func:`dln_git.claims.verify` takes any
    :class:`concurrent.futures.Executor`, e.g. a dask.distributed cluster's.
``dln-git figures``
    Rebuild the figures of ``paper_figures`` (run from the repository root).
``dln-git derive``
    Moment map and Kempf–Ness conditions derived symbolically for given widths.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

from .claims import SIZES, ClaimSummary, UnknownClaimError, report_format, select_claims, verify
from .claims.report import format_number

_fmt = format_number


def _print_claim(summary: ClaimSummary, width: int = 28) -> None:
    """One claim as a referee reads it: verdict, figures of the worst instance, time, statement,
    the check's detail, the failing seeds and the tracebacks."""
    claim, runs = summary.claim, summary.instances
    worst = summary.worst
    if worst is not None:
        r = worst.result
        figures = f"measured {_fmt(r.measured)}  expected {_fmt(r.expected)}  tol {_fmt(r.tolerance)}"
        if len(runs) > 1:
            figures = f"{summary.passes}/{len(runs)} passed, worst (seed {worst.seed}): {figures}"
    else:
        figures = "raised an exception" if len(runs) == 1 else f"all {len(runs)} instances raised an exception"
    print(f"{summary.verdict:<5} {claim.id:<{width}} {figures}  ({summary.seconds:.2f} s)")
    print(f"      §{claim.section} [{claim.tag}] {claim.statement}")
    if worst is not None and worst.result.detail:
        print(f"      {worst.result.detail}")
    sizes = summary.check_sizes
    if sizes and sizes != (runs[0].size,):
        print(f"      ran its {'/'.join(sizes)} branch (the check has no {runs[0].size} branch)")
    if len(runs) > 1 and not summary.passed:
        bad = [str(r.seed) for r in runs if not r.passed]
        print(f"      failing seeds: {', '.join(bad[:20])}{' ...' if len(bad) > 20 else ''}")
    errors = [r for r in runs if r.error is not None]
    if errors:
        if len(runs) > 1:
            print(f"      seed {errors[0].seed}:")
        print("      " + errors[0].error.rstrip().replace("\n", "\n      "))
        if len(errors) > 1:
            print(f"      ({len(errors) - 1} more instances raised; see --report)")
    sys.stdout.flush()


def _verify(args) -> int:
    try:
        claims = select_claims(args.claim)
    except UnknownClaimError as exc:
        print(f"dln-git verify: {exc}", file=sys.stderr)
        return 2
    width = max([28, *(len(c.id) for c in claims)])
    if args.list:
        for c in claims:
            print(f"{c.id:<{width}} §{c.section:<4} [{c.tag}] {c.statement}")
        return 0
    if args.report is not None:
        try:
            report_format(args.report)
        except ValueError as exc:
            print(f"dln-git verify: {exc}", file=sys.stderr)
            return 2
        if not args.report.parent.is_dir():
            print(f"dln-git verify: report directory {str(args.report.parent)!r} does not exist", file=sys.stderr)
            return 2
    seeds = f"seed {args.seed}" if args.seeds == 1 else f"seeds {args.seed}..{args.seed + args.seeds - 1}"
    jobs = "1 job" if args.jobs == 1 else ("one job per core" if args.jobs == 0 else f"{args.jobs} jobs")
    print(f"dln-git verify: {len(claims)} claim{'s' if len(claims) != 1 else ''}, {seeds}, size {args.size}, {jobs}")
    sys.stdout.flush()
    report = verify(
        args.claim,
        seeds=args.seeds,
        seed=args.seed,
        size=args.size,
        jobs=args.jobs,
        threads_per_job=args.blas_threads,
        progress=args.progress,
        on_claim=lambda summary: _print_claim(summary, width),
    )
    print(f"{report.summary_line()}  (wall {report.wall_seconds:.1f} s, {report.execution})")
    bad = [c for c in report.claims if not c.passed]
    for c in bad:
        seed = next(r.seed for r in c.instances if not r.passed)
        print(f"  {c.verdict:<5} {c.claim.id}: reproduce with `{report.command([c.claim.id], seed=seed, seeds=1)}`")
    if args.report is not None:
        try:
            path = report.write(args.report)
        except OSError as exc:
            print(f"dln-git verify: cannot write the report: {exc}", file=sys.stderr)
            return 2
        print(f"report written to {path}")
    return report.exit_code


def _import_paper_figures():
    """``paper_figures`` (a top-level package of the repository, not installed with dln-git):
    imported as is, or from the current directory when run from the repository root."""
    try:
        return importlib.import_module("paper_figures")
    except ModuleNotFoundError as exc:
        root = Path.cwd()
        if exc.name != "paper_figures" or not (root / "paper_figures" / "__init__.py").is_file():
            raise
        sys.path.insert(0, str(root))
        return importlib.import_module("paper_figures")


def _figures(args) -> int:
    try:
        paper_figures = _import_paper_figures()
    except ImportError as exc:
        print(
            f"dln-git figures: cannot import paper_figures ({exc}); run from the repository root, where "
            "paper_figures/ lives, with the package's dependencies installed",
            file=sys.stderr,
        )
        return 2
    known = list(paper_figures.FIGURES)
    unknown = [name for name in args.only or () if name not in paper_figures.FIGURES]
    if unknown:
        print(
            f"dln-git figures: unknown figure(s) {', '.join(map(repr, unknown))}; known figures: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        paths = paper_figures.build(args.out, only=args.only, size="smoke" if args.smoke else "paper",
                                    log=lambda line: print(line, file=sys.stderr, flush=True))
    except Exception:
        print("dln-git figures: building the figures failed:\n" + traceback.format_exc(), file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


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


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dln-git",
        description="Parameter-space symmetry of deep linear networks: verify the claims of MATH.md, rebuild the "
        "paper figures, derive moment maps.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser(
        "verify",
        help="run the registered claims and report measured vs expected",
        description="Run the registered claims of MATH.md on random instances and report measured vs expected. "
        "Exit code 0 if every claim passes, 1 if any fails or raises, 2 on usage errors.",
    )
    verify.add_argument(
        "--claim", nargs="+", metavar="ID", help="claim ids or glob patterns, e.g. 'flows.*' '*rate*' (default: all)"
    )
    verify.add_argument("--seed", type=_non_negative_int, default=0, help="base random seed (default 0)")
    verify.add_argument(
        "--seeds",
        type=_positive_int,
        default=1,
        metavar="K",
        help="random instances per claim; instance k uses seed + k (default 1)",
    )
    verify.add_argument("--size", choices=SIZES, default="small", help="instance size (default small)")
    verify.add_argument(
        "--jobs",
        type=_non_negative_int,
        default=1,
        metavar="J",
        help="worker processes running instances in parallel; 0 for one per core (default 1: serial)",
    )
    verify.add_argument(
        "--blas-threads",
        type=_non_negative_int,
        default=1,
        metavar="T",
        help="BLAS threads per job; 0 leaves BLAS as configured (default 1: the checks' matrices are small)",
    )
    verify.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write the full report to FILE.md (Markdown) or FILE.json (every instance)",
    )
    verify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    verify.add_argument("--list", action="store_true", help="list the selected claims instead of running them")
    verify.set_defaults(func=_verify)
    figures = sub.add_parser("figures", help="rebuild the paper figures (from the repository root)")
    figures.add_argument("--only", nargs="+", metavar="NAME", help="figures to build (default: all)")
    figures.add_argument(
        "--out", type=Path, default=Path("figures"), metavar="DIR", help="output directory (default ./figures)"
    )
    figures.add_argument("--smoke", action="store_true", help="small, fast versions (a smoke test), not paper quality")
    figures.set_defaults(func=_figures)
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
