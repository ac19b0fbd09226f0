"""``dln-git`` usage errors: one line on stderr naming the argument, exit code 2, before any work
(no claim run, no figure built, nothing printed on stdout); flags are honoured or refused, never
silently ignored; ``--jobs`` is capped at the number of instances."""

from __future__ import annotations

import os
import types

import pytest

from dln_git import cli
from dln_git.claims import ClaimResult, all_claims, register, select_claims, verify
from dln_git.claims import registry as registry_module
from dln_git.claims.workers import available_cores, worker_count


@pytest.fixture
def spy_claim():
    """A claim ``spy.ran`` that records each run in the returned list; removed afterwards."""
    all_claims()
    before = dict(registry_module._REGISTRY)
    runs: list[int] = []

    @register("spy.ran", "records that it ran", section="0", tag="derived")
    def _spy(rng, size):
        runs.append(1)
        return ClaimResult(0.0, 0.0, 0.0)

    yield runs
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


def _one_error_line(capsys, flag: str) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert f"argument {flag}:" in lines[0] and "Traceback" not in captured.err
    return lines[0]


# -- verify --report ----------------------------------------------------------------------------


def _report_cases(tmp_path):
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a directory")
    cases = {
        "a directory": (tmp_path, "is a directory"),
        "missing directory": (tmp_path / "missing" / "r.md", "does not exist"),
        "parent is a file": (a_file / "r.md", "is not a directory"),
        "bad suffix": (tmp_path / "r.txt", "must end in .md"),
    }
    if os.path.isdir("/proc/self"):  # exists, but no file can be created in it, not even by root
        cases["unwritable directory"] = ("/proc/dln-git-report.md", "cannot create files")
    return cases


@pytest.mark.parametrize("case", ["a directory", "missing directory", "parent is a file", "bad suffix", "unwritable"])
def test_report_path_is_checked_before_any_claim_runs(case, spy_claim, tmp_path, capsys):
    cases = _report_cases(tmp_path)
    key = next((k for k in cases if k.startswith(case)), None)
    if key is None:
        pytest.skip("no unwritable directory on this platform")
    path, reason = cases[key]
    assert cli.main(["verify", "--claim", "spy.ran", "--report", str(path)]) == 2
    assert reason in _one_error_line(capsys, "--report")
    assert spy_claim == []  # refused before the run


def test_unwritable_report_directory_by_permissions(spy_claim, tmp_path, capsys):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes through permission bits")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli.main(["verify", "--claim", "spy.ran", "--report", str(locked / "r.md")]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot create files" in _one_error_line(capsys, "--report")
    assert spy_claim == []


def test_report_check_leaves_no_file_behind(spy_claim, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert cli.main(["verify", "--claim", "spy.ran", "--report", str(report)]) == 0
    assert spy_claim == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # the probe file is gone


# -- flags refused rather than ignored ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--seeds", "3"], "--seeds"),
        (["--seed", "1"], "--seed"),
        (["--size", "medium"], "--size"),
        (["--jobs", "2"], "--jobs"),
        (["--blas-threads", "2"], "--blas-threads"),
        (["--report", "r.md"], "--report"),
        (["--no-progress"], "--progress/--no-progress"),
    ],
)
def test_list_refuses_options_that_only_apply_to_a_run(argv, flag, spy_claim, capsys):
    assert cli.main(["verify", "--list", "--claim", "spy.ran", *argv]) == 2
    assert "--list runs nothing" in _one_error_line(capsys, flag)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["verify", "--seeds", "0"], "--seeds"),
        (["verify", "--seeds", "two"], "--seeds"),
        (["verify", "--seed", "-1"], "--seed"),
        (["verify", "--jobs", "-1"], "--jobs"),
        (["verify", "--blas-threads", "-3"], "--blas-threads"),
        (["verify", "--size", "huge"], "--size"),
        (["derive", "--widths", "2,3,2", "--laws", "--seed", "-2"], "--seed"),
    ],
)
def test_bad_values_exit_2_naming_the_flag(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err and "Traceback" not in err


def test_unknown_claim_names_the_flag(capsys):
    assert cli.main(["verify", "--claim", "nothing.*"]) == 2
    assert "matches no claim" in _one_error_line(capsys, "--claim")


# -- --jobs is capped at the number of instances ------------------------------------------------


@pytest.mark.parametrize(("jobs", "tasks"), [(1, 5), (4, 1), (4, 3), (3, 7), (0, 1), (0, 100), (64, 2)])
def test_worker_count_is_jobs_capped_at_the_instances(jobs, tasks):
    asked = jobs if jobs else available_cores()
    assert worker_count(jobs, tasks) == (asked if asked < tasks else tasks)


def test_jobs_beyond_the_instances_start_no_idle_workers(spy_claim, capsys):
    single = verify(["spy.ran"], jobs=8)
    assert single.execution.startswith("serial")  # one instance: no pool at all
    two = select_claims(["spy.ran", "core.noether"])
    pair = verify([c.id for c in two], jobs=8)
    assert "process pool of 2 workers" in pair.execution
    assert cli.main(["verify", "--claim", "spy.ran", "core.noether", "--jobs", "8"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith("2 jobs (--jobs 8, at most one per instance)")


# -- figures --out ------------------------------------------------------------------------------


@pytest.fixture
def fake_figures(monkeypatch):
    """A stand-in for ``paper_figures`` recording the builds (the real one needs matplotlib and
    seconds per figure)."""
    builds: list = []

    def build(out_dir, *, only=None, size="paper", log=None):
        builds.append(out_dir)
        return []

    module = types.SimpleNamespace(FIGURES={"fig_a": None, "fig_b": None}, build=build)
    monkeypatch.setattr(cli, "_import_paper_figures", lambda: module)
    return builds


def test_figures_out_that_is_a_file_is_refused_before_building(fake_figures, tmp_path, capsys):
    a_file = tmp_path / "figures.png"
    a_file.write_bytes(b"")
    for out in (a_file, a_file / "sub"):
        assert cli.main(["figures", "--out", str(out)]) == 2
        _one_error_line(capsys, "--out")
    assert fake_figures == []


def test_figures_out_in_an_unwritable_place_is_refused(fake_figures, capsys):
    if not os.path.isdir("/proc/self"):
        pytest.skip("no unwritable directory on this platform")
    assert cli.main(["figures", "--out", "/proc/dln-git-figures"]) == 2
    assert "cannot write" in _one_error_line(capsys, "--out")
    assert fake_figures == []


def test_figures_out_is_created_and_unknown_names_name_only(fake_figures, tmp_path, capsys):
    out = tmp_path / "new" / "dir"
    assert cli.main(["figures", "--out", str(out)]) == 0
    assert out.is_dir() and fake_figures == [out] and list(out.iterdir()) == []
    assert cli.main(["figures", "--only", "fig_z", "--out", str(out)]) == 2
    assert "'fig_z'" in _one_error_line(capsys, "--only")


def test_no_command_prints_the_help(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dln-git") and "verify" in out and "figures" in out and "derive" in out


def test_version_and_figures_list(capsys):
    import dln_git
    from dln_git import figures

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dln-git {dln_git.__version__}"
    assert cli.main(["figures", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(figures.FIGURES)



def test_figures_write_failure_is_one_line(monkeypatch, tmp_path, capsys):
    def build(out_dir, *, only=None, size="paper", log=None):
        raise OSError(28, "No space left on device", str(out_dir / "fig_a.png"))

    module = types.SimpleNamespace(FIGURES={"fig_a": None}, build=build)
    monkeypatch.setattr(cli, "_import_paper_figures", lambda: module)
    assert cli.main(["figures", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "fig_a.png" in err
