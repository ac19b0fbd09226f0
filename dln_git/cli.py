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
    Rebuild the paper's figures (:mod:`dln_git.figures`).
``dln-git derive``
    Moment map and Kempf–Ness conditions derived symbolically for given widths.

Errors and interruptions
------------------------
A usage error is one line on stderr naming the argument, ``dln-git CMD: error: argument
--FLAG: reason``, and exit code 2, before any work starts: bad values, a ``--report`` or
``--out`` that cannot be written, and flags that would have no effect in the combination given
(``verify --list --seeds 3``, ``derive --seed 1`` without ``--laws``, ``derive --laws
--complex``): a flag is honoured or refused, never ignored. Ctrl-C prints one line (for
``verify``: how many claims and instances were done) and exits with 130 (128 + SIGINT), the
workers of ``--jobs`` terminated and no report written; a closed stdout (``| head``) ends the
run quietly with 141 (128 + SIGPIPE). Reports are written atomically.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import cli_figures
from .claims import SIZES, ClaimSummary, UnknownClaimError, select_claims, verify
from .claims.report import format_number
from .claims.report_file import ReportPathError, check_report_path
from .claims.runner import VerifyInterrupted, worker_count
from .cli_figures import import_paper_figures as _import_paper_figures

_fmt = format_number

#: Exit codes: usage error (argparse's), Ctrl-C (128 + SIGINT), closed stdout (128 + SIGPIPE).
EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 130, 141

#: ``verify`` options that only matter when claims run, with their defaults: refused with
#: ``--list`` (they would be ignored), filled in otherwise.
_RUN_OPTIONS = {
    "seed": ("--seed", 0),
    "seeds": ("--seeds", 1),
    "size": ("--size", "small"),
    "jobs": ("--jobs", 1),
    "blas_threads": ("--blas-threads", 1),
    "report": ("--report", None),
    "progress": ("--progress/--no-progress", None),
}


def _usage_error(command: str, flag: str, message: str) -> int:
    """One line on stderr in argparse's words, naming the argument; returns exit code 2."""
    print(f"dln-git {command}: error: argument {flag}: {message}", file=sys.stderr)
    return EXIT_USAGE


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


def _import_user_modules(modules) -> str | None:
    """Import the ``--import`` modules (the working directory first on the path, as ``python -m``
    does); the error message of the first that fails, or None."""
    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a user's module may raise anything at import time
            return f"cannot import {module!r}: {type(exc).__name__}: {exc}"
    return None


def _verify(args) -> int:
    problem = _import_user_modules(args.imports)
    if problem is not None:
        return _usage_error("verify", "--import", problem)
    try:
        claims = select_claims(args.claim)
    except UnknownClaimError as exc:
        return _usage_error("verify", "--claim", str(exc))
    given = [flag for dest, (flag, _) in _RUN_OPTIONS.items() if getattr(args, dest) is not None]
    if args.list and given:
        return _usage_error("verify", given[0], f"{', '.join(given)} only apply to a run; --list runs nothing")
    for dest, (_, default) in _RUN_OPTIONS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    width = max([28, *(len(c.id) for c in claims)])
    if args.list:
        for c in claims:
            print(f"{c.id:<{width}} §{c.section:<4} [{c.tag}] {c.statement}")
        return 0
    if args.report is not None:
        try:
            check_report_path(args.report)
        except ReportPathError as exc:
            return _usage_error("verify", "--report", str(exc))
    instances = len(claims) * args.seeds
    workers = worker_count(args.jobs, instances)
    seeds = f"seed {args.seed}" if args.seeds == 1 else f"seeds {args.seed}..{args.seed + args.seeds - 1}"
    jobs = "1 job" if workers == 1 else f"{workers} jobs"
    if args.jobs == 0 or workers < args.jobs:
        asked = "one per core" if args.jobs == 0 else f"--jobs {args.jobs}"
        jobs += f" ({asked}, at most one per instance)"
    print(f"dln-git verify: {len(claims)} claim{'s' if len(claims) != 1 else ''}, {seeds}, size {args.size}, {jobs}")
    sys.stdout.flush()
    try:
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
    except VerifyInterrupted as exc:
        print(f"dln-git verify: {exc}{'; no report written' if args.report else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{report.summary_line()}  (wall {report.wall_seconds:.1f} s, {report.execution})")
    bad = [c for c in report.claims if not c.passed]
    for c in bad:
        seed = next(r.seed for r in c.instances if not r.passed)
        print(f"  {c.verdict:<5} {c.claim.id}: reproduce with `{report.command([c.claim.id], seed=seed, seeds=1)}`")
    if args.report is not None:
        try:
            path = report.write(args.report)
        except OSError as exc:
            print(f"dln-git verify: cannot write the report (nothing written): {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"report written to {path}")
    return report.exit_code


def _figures(args) -> int:
    """``dln-git figures`` (:func:`dln_git.cli_figures.run`), importing :mod:`dln_git.figures` through this
    module's ``_import_paper_figures`` (tests replace it with a stand-in)."""
    return cli_figures.run(args, import_paper_figures=_import_paper_figures)


def _parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated integers like 2,3,2, got {text!r}") from None


def _derive(args) -> int:
    from .symbolic import count_conservation_laws, derive_moment_map, kempf_ness_conditions, to_latex

    if args.seed is not None and not args.laws:
        return _usage_error("derive", "--seed", "only used with --laws (it seeds the random point of the count)")
    widths = args.widths
    try:
        mu = derive_moment_map(widths, complex=args.complex)
        conditions = kempf_ness_conditions(widths, complex=args.complex)
    except (ValueError, TypeError) as exc:
        return _usage_error("derive", "--widths", str(exc))
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
        try:
            count = count_conservation_laws(widths, "linear", rng=args.seed or 0, complex=args.complex)
        except (ValueError, TypeError) as exc:
            return _usage_error("derive", "--laws", str(exc))
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
    from . import __version__

    parser.add_argument("--version", action="version", version=f"dln-git {__version__}")
    sub = parser.add_subparsers(dest="command")
    verify = sub.add_parser(
        "verify",
        help="run the registered claims and report measured vs expected",
        description="Run the registered claims of MATH.md on random instances and report measured vs expected. "
        "Exit code 0 if every claim passes, 1 if any fails or raises, 2 on usage errors, 130 on Ctrl-C.",
    )
    verify.add_argument(
        "--claim", nargs="+", metavar="ID", help="claim ids or glob patterns, e.g. 'flows.*' '*rate*' (default: all)"
    )
    # Options that matter only for a run default to None here, so that --list can refuse them
    # (see _RUN_OPTIONS, where their defaults are).
    verify.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE",
        help="import MODULE first (from the working directory or the path), so that the claims it registers can "
        "be selected and run; repeatable",
    )
    verify.add_argument("--seed", type=_non_negative_int, help="base random seed (default 0)")
    verify.add_argument(
        "--seeds",
        type=_positive_int,
        metavar="K",
        help="random instances per claim; instance k uses seed + k (default 1)",
    )
    verify.add_argument("--size", choices=SIZES, help="instance size (default small)")
    verify.add_argument(
        "--jobs",
        type=_non_negative_int,
        metavar="J",
        help="worker processes running instances in parallel, at most one per instance; 0 for one per core "
        "(default 1: serial)",
    )
    verify.add_argument(
        "--blas-threads",
        type=_non_negative_int,
        metavar="T",
        help="BLAS threads per job; 0 leaves BLAS as configured (default 1: the checks' matrices are small)",
    )
    verify.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write the full report to FILE.md (Markdown) or FILE.json (every instance); checked before the run, "
        "written atomically",
    )
    verify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    verify.add_argument("--list", action="store_true", help="list the selected claims instead of running them")
    verify.set_defaults(func=_verify)
    cli_figures.add_parser(sub, func=_figures)
    derive = sub.add_parser("derive", help="derive the moment map and Kempf–Ness conditions symbolically")
    derive.add_argument("--widths", type=_parse_widths, required=True, help="widths d_0,...,d_N, e.g. 2,3,2")
    derive.add_argument("--complex", action="store_true", help="complex weights (U(d) instead of O(d))")
    derive.add_argument("--latex", action="store_true", help="print the moment map and the conditions as LaTeX")
    derive.add_argument(
        "--laws", action="store_true", help="count the conservation laws (Lie-algebra rank; real weights only)"
    )
    derive.add_argument(
        "--seed", type=_non_negative_int, help="seed of the random point for --laws (default 0; only with --laws)"
    )
    derive.set_defaults(func=_derive)
    from . import cli_balance

    cli_balance.add_parser(sub)
    return parser


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit after a broken pipe does not
    raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout without a descriptor (captured)
        pass


def main(argv=None) -> int:
    """Run ``dln-git`` with ``argv`` (default: the command line); return the exit code.

    Usage errors exit through argparse (``SystemExit(2)``) or return 2; Ctrl-C returns 130 after
    one line on stderr; a closed stdout returns 141. See the module docstring.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `dln-git`: the help, not an error
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:  # VerifyInterrupted is handled, with its counts, by _verify
        print(f"dln-git {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
