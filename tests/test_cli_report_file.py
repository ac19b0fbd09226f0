"""Reports are written atomically: a failure or Ctrl-C while writing leaves the previous report
intact and no temporary file behind; a written report has the permissions of an ordinary file."""

from __future__ import annotations

import json
import os

import pytest

from dln_git.claims import report_file, verify, write_report
from dln_git.claims.report_file import ReportPathError, check_report_path


@pytest.fixture(scope="module")
def report():
    return verify(["core.noether"], seeds=2)


@pytest.mark.parametrize("interruption", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_previous_report_and_nothing_else(interruption, report, tmp_path, monkeypatch):
    path = tmp_path / "verify.json"
    path.write_text("previous report\n")

    def fail(fd):
        raise interruption

    monkeypatch.setattr(report_file.os, "fsync", fail)  # after the data went to the temporary file
    with pytest.raises(type(interruption)):
        write_report(report, path)
    assert path.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["verify.json"]


def test_written_report_replaces_the_old_one_with_ordinary_permissions(report, tmp_path):
    path = tmp_path / "verify.json"
    path.write_text("previous report\n")
    assert write_report(report, path) == path
    assert json.loads(path.read_text())["summary"]["claims"] == 1
    ordinary = tmp_path / "ordinary.txt"
    with open(ordinary, "w") as file:  # what an ordinary write gives under the current umask
        file.write("x")
    assert (path.stat().st_mode & 0o777) == (ordinary.stat().st_mode & 0o777)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ordinary.txt", "verify.json"]


def test_a_symbolic_link_is_followed_not_replaced(report, tmp_path):
    target_dir = tmp_path / "reports"
    target_dir.mkdir()
    target = target_dir / "latest.md"
    target.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    check_report_path(link)
    write_report(report, link)
    assert link.is_symlink() and target.read_text().startswith("# dln-git verify")
    assert sorted(p.name for p in target_dir.iterdir()) == ["latest.md"]


def test_check_report_path_errors_are_value_errors_naming_the_path(tmp_path):
    with pytest.raises(ReportPathError, match="is a directory"):
        check_report_path(tmp_path)
    with pytest.raises(ValueError, match=r"'.*missing' does not exist"):
        check_report_path(tmp_path / "missing" / "r.md")
    assert check_report_path(tmp_path / "r.md") == tmp_path / "r.md"
    assert not os.path.exists(tmp_path / "r.md") and list(tmp_path.iterdir()) == []
