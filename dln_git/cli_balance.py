"""``dln-git balance IN -o OUT``: read a network's weights, balance them on their fiber (X kept), write
them back, and say what changed. Exit code 0 when balancing converged, 1 when it did not (the weights
reached are still written, and the message says why), 2 on usage errors (unreadable input, bad
options)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_NOT_CONVERGED, EXIT_USAGE = 1, 2


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "balance",
        help="balance a network's weights read from a file (.npz or .safetensors) and write them back",
        description="Read W_1..W_N from IN, balance them on the fiber of X = W_N...W_1 (X kept to rounding), "
        "write them to OUT under the same names, and print ||mu||, R before and after, min R and the X drift. "
        "Exit code 0 if balancing converged, 1 if not (OUT is still written), 2 on usage errors.",
    )
    p.add_argument("input", type=Path, metavar="IN", help="weights file (.npz or .safetensors)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="where to write (.npz or .safetensors)")
    p.add_argument("--method", default="newton", help="newton (default), l2, moment or svd")
    p.add_argument("--tol", type=float, default=1e-12, help="stop at ||mu|| <= tol R (default 1e-12)")
    p.add_argument("--max-iter", type=int, default=None, metavar="K",
                   help="iteration (Newton) or step (flows) budget (default: the method's own)")
    p.add_argument("--layers", nargs="+", metavar="NAME",
                   help="the layers in math order (W_1 first), or one glob pattern (default: W_1, W_2, ...)")
    p.add_argument("--save-result", type=Path, metavar="FILE",
                   help="also write the whole balancing result (.npz; read it with dln_git.results_io.load_result)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr for the flows (default: on a terminal, for runs over 2 s)")
    p.set_defaults(func=run)
    return p


def _error(flag: str, message: str) -> int:
    print(f"dln-git balance: error: argument {flag}: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args) -> int:
    from . import io
    from .core import end_to_end, min_regularizer, moment_norm, regularizer
    from .flows import balance

    layers = None if args.layers is None else (args.layers[0] if len(args.layers) == 1 and any(
        c in args.layers[0] for c in "*?[") else list(args.layers))
    try:
        names, W = io.load_named_weights(args.input, layers)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        return _error("IN", str(exc))
    if args.output.suffix not in (".npz", ".safetensors"):
        return _error("-o/--output", f"must end in .npz or .safetensors, got {args.output.name!r}")
    save_result = getattr(args, "save_result", None)
    if save_result is not None and save_result.suffix != ".npz":
        return _error("--save-result", f"must end in .npz, got {save_result.name!r}")
    try:
        result = balance(W, method=args.method, tol=args.tol, max_iter=args.max_iter, progress=args.progress)
    except (ValueError, TypeError) as exc:
        return _error("--method/--tol/--max-iter", str(exc))
    X = end_to_end(W)
    R0, R1 = regularizer(W), regularizer(result.weights)
    print(f"{args.input} -> {args.output}: N = {len(W)} layers {', '.join(names)}, widths "
          f"{(W[0].shape[1], *(w.shape[0] for w in W))}, method {result.method}")
    print(f"  ||mu||  {moment_norm(W):.6e} -> {moment_norm(result.weights):.6e}")
    print(f"  R       {R0:.12e} -> {R1:.12e}   (min R on the fiber {min_regularizer(X, len(W)):.12e})")
    print(f"  X drift {result.x_drift:.2e} (relative)")
    print(f"  {'converged' if result.converged else 'NOT converged'}: {result.message}")
    try:
        io.save_weights(args.output, result.weights, names)
    except (OSError, ValueError, ImportError) as exc:
        return _error("-o/--output", str(exc))
    if save_result is not None:
        from .results_io import save_result as write_result

        try:
            write_result(save_result, result)
        except (OSError, ValueError, TypeError) as exc:
            return _error("--save-result", str(exc))
    return 0 if result.converged else EXIT_NOT_CONVERGED
