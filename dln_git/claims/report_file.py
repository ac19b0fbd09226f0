"""Where ``dln-git verify`` writes its report, checked before the run and written atomically.

:func:`check_report_path` says, before any claim runs, whether a report can be written at a
path: a known suffix (:data:`REPORT_SUFFIXES`), not a directory, in an existing directory where
a file can be created (tried, not guessed from permission bits: ACLs, read-only mounts and
root all behave as the write will).

:func:`write_report` writes the text to a new file next to the target (same directory, hence
the same file system), flushes it to disk and renames it over the target with
:func:`os.replace`, which is atomic on POSIX and Windows: a reader, or a run interrupted by
Ctrl-C or a full disk, sees the previous report or the new one, never half of one. The new
file gets the permissions an ordinary write would give (``0o666`` minus the umask).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report import VerifyReport

__all__ = ["REPORT_SUFFIXES", "ReportPathError", "check_report_path", "report_format", "write_report"]

#: Report file suffixes and the format each one writes.
REPORT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json"}


class ReportPathError(ValueError):
    """A report cannot be written at the given path (the message says why)."""


def report_format(path: str | os.PathLike) -> str:
    """``"markdown"`` or ``"json"`` from the file suffix.

    Raises
    ------
    ValueError
        For any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ReportPathError(
            f"report file must end in {', '.join(REPORT_SUFFIXES)} (Markdown or JSON), got {os.fspath(path)!r}"
        )
    return REPORT_SUFFIXES[suffix]


def _create_sibling(target: Path) -> tuple[int, Path]:
    """A new, empty file in the directory of ``target`` (exclusive create, mode ``0o666`` minus
    the umask): its descriptor and path."""
    for _ in range(100):
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {os.fspath(target)!r}")


def _destination(path: Path) -> Path:
    """The file the report replaces: the target of a symbolic link, else ``path`` itself."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_report_path(path: str | os.PathLike) -> Path:
    """Check, without writing the report, that :func:`write_report` can write one at ``path``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ReportPathError
        (a ValueError) If the suffix is not one of :data:`REPORT_SUFFIXES`, ``path`` is a
        directory, its directory is missing or not a directory, or no file can be created
        there; the message names the path and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise ReportPathError(
            f"report path {os.fspath(path)!r} is a directory; give a file name ending in .md or .json"
        )
    report_format(path)
    destination = _destination(path)
    parent = destination.parent
    if not parent.exists():
        raise ReportPathError(f"report directory {os.fspath(parent)!r} does not exist")
    if not parent.is_dir():
        raise ReportPathError(f"report directory {os.fspath(parent)!r} is not a directory")
    try:
        descriptor, probe = _create_sibling(destination)
    except OSError as exc:
        raise ReportPathError(
            f"cannot create files in report directory {os.fspath(parent)!r}: {exc.strerror or exc}"
        ) from None
    os.close(descriptor)
    with contextlib.suppress(OSError):
        probe.unlink()
    return path


def write_report(report: VerifyReport, path: str | os.PathLike) -> Path:
    """Write ``report`` as Markdown (``.md``) or JSON (``.json``), atomically, and return the path.

    The text goes to a temporary file in the same directory, which then replaces ``path``
    (:func:`os.replace`); on any error, Ctrl-C included, the temporary file is removed and
    ``path`` is left as it was.

    Raises
    ------
    ValueError
        For an unknown suffix.
    OSError
        If the file cannot be written (nothing is left behind).
    """
    path = Path(path)
    text = report.to_markdown() if report_format(path) == "markdown" else report.to_json()
    data = (text + "\n").encode("utf-8")
    destination = _destination(path)
    descriptor, temporary = _create_sibling(destination)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path
