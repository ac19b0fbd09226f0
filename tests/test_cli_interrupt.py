"""Ctrl-C: ``dln-git`` prints one line (how far ``verify`` got), exits with 130, terminates the
workers of ``--jobs`` and writes no report; a closed stdout ends the run quietly with 141.

In-process tests raise ``KeyboardInterrupt`` from a check or a callback; the subprocess tests
send a real SIGINT to the whole process group, as a terminal does, once every worker has
reported that it is running a check (no timing guesses)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import pytest

import dln_git
from dln_git import cli
from dln_git.claims import ClaimResult, all_claims, register, verify
from dln_git.claims import registry as registry_module
from dln_git.claims.runner import VerifyInterrupted
from dln_git.claims.workers import sigint_deferred

ROOT = Path(dln_git.__file__).resolve().parents[1]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")


@pytest.fixture
def temporary_claims():
    all_claims()
    before = dict(registry_module._REGISTRY)
    yield register
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie, reaped by nobody yet, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return False


# -- in process ---------------------------------------------------------------------------------


def test_serial_interrupt_is_one_line_exit_130_and_no_report(temporary_claims, tmp_path, capsys):
    @temporary_claims("test.interrupt", "Ctrl-C arrives during this check", section="0", tag="derived")
    def _interrupt(rng, size):
        raise KeyboardInterrupt

    report = tmp_path / "verify.md"
    argv = ["verify", "--claim", "core.noether", "core.equivariance", "test.interrupt", "--seeds", "2"]
    assert cli.main([*argv, "--report", str(report)]) == 130
    captured = capsys.readouterr()
    assert captured.err == (
        "dln-git verify: interrupted: 2 of 3 claims done (4 of 6 instances); no report written\n"
    )
    assert "PASS  core.noether" in captured.out and "PASS  core.equivariance" in captured.out
    assert not report.exists() and list(tmp_path.iterdir()) == []


def test_pool_interrupt_cancels_the_rest_and_terminates_the_workers(temporary_claims, tmp_path):
    started = tmp_path / "started"
    started.mkdir()

    @temporary_claims("test.pid", "reports the worker's process id", section="0", tag="derived")
    def _pid(rng, size):
        return ClaimResult(0.0, 0.0, 0.0, detail=str(os.getpid()))

    @temporary_claims("test.busy", "runs until its worker is terminated", section="0", tag="derived")
    def _busy(rng, size):
        (started / str(os.getpid())).touch()
        time.sleep(3600)
        return ClaimResult(0.0, 0.0, 0.0)

    pids: set[int] = set()

    def interrupt_once_both_workers_are_busy(summary):
        pids.update(int(r.result.detail) for r in summary.instances)
        for _ in range(60_000):  # both test.busy instances running (a guard against a hang, not a timing)
            if len(list(started.iterdir())) == 2:
                break
            time.sleep(0.005)
        raise KeyboardInterrupt

    with pytest.raises(VerifyInterrupted) as info:
        verify(["test.pid", "test.busy"], seeds=2, jobs=2, on_claim=interrupt_once_both_workers_are_busy)
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt)
    assert (stop.claims_done, stop.claims_total, stop.instances_done, stop.instances_total) == (1, 2, 2, 4)
    assert [s.claim.id for s in stop.summaries] == ["test.pid"]
    busy = {int(p.name) for p in started.iterdir()}
    assert busy and all(_gone(pid) for pid in pids | busy)


def test_figures_interrupt_counts_the_figures_built(monkeypatch, tmp_path, capsys):
    def build(out_dir, *, only=None, size="paper", log=None):
        log("fig_a: fig_a.png (0.1 s)")
        raise KeyboardInterrupt

    module = types.SimpleNamespace(FIGURES={"fig_a": None, "fig_b": None, "fig_c": None}, build=build)
    monkeypatch.setattr(cli, "_import_paper_figures", lambda: module)
    assert cli.main(["figures", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("dln-git figures: interrupted: 1 of 3 figures built") and len(err) == 2


def test_derive_interrupt(monkeypatch, capsys):
    import dln_git.symbolic

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dln_git.symbolic, "derive_moment_map", interrupted)
    assert cli.main(["derive", "--widths", "2,3,2"]) == 130
    assert capsys.readouterr().err == "dln-git derive: interrupted\n"


@POSIX
def test_sigint_deferred_delivers_the_interrupt_after_the_block():
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            # directed at this thread: a process-wide SIGINT may be taken by another thread
            # (the deferral is per thread; what matters is the mask the workers inherit)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            reached = True
    assert reached


# -- a real Ctrl-C and a closed pipe, in a subprocess ---------------------------------------------

CLAIMS_MODULE = '''
import os, sys, time
from pathlib import Path
from dln_git.claims import ClaimResult, register

@register("slow.wait", "waits for its worker to be stopped", section="0", tag="derived")
def wait(rng, size):
    sys.stdout.write(f"READY {os.getpid()}\\n")  # one write: print() writes the newline apart,
    sys.stdout.flush()                           # and the parent's lines could land in between
    time.sleep(3600)
    return ClaimResult(0.0, 0.0, 0.0)

@register("slow.go", "waits for the file GO", section="0", tag="derived")
def go(rng, size):
    while not Path(os.environ["DLN_GIT_TEST_GO"]).exists():
        time.sleep(0.01)
    return ClaimResult(0.0, 0.0, 0.0)
'''


def _start_cli(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """``dln-git ARGV`` in its own process group, with the claims of CLAIMS_MODULE registered
    after the built-in ones; killed by a watchdog if it is still running after 300 s (a guard
    against a hang, far above the second it takes), which makes every read of its output end."""
    (tmp_path / "slow_claims.py").write_text(textwrap.dedent(CLAIMS_MODULE))
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from dln_git.claims import all_claims; "
        f"all_claims(); import slow_claims; from dln_git.cli import main; sys.exit(main({list(argv)!r}))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), DLN_GIT_TEST_GO=str(tmp_path / "GO"))
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    watchdog = threading.Timer(300, _kill_group, (process.pid,))
    watchdog.daemon = True
    watchdog.start()
    process.watchdog = watchdog
    return process


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _finish(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate()
    process.watchdog.cancel()
    assert process.returncode != -signal.SIGKILL, "the CLI did not stop (killed by the test's watchdog)"
    return out, err


@POSIX
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_in_a_terminal(jobs, tmp_path):
    """With --jobs 2, one worker is in a check and the other idle (core.noether done): neither may
    print a traceback or outlive the run."""
    report = tmp_path / "verify.json"
    process = _start_cli(
        tmp_path, "verify", "--claim", "core.noether", "slow.wait", "--jobs", jobs, "--report", str(report)
    )
    assert process.stdout.readline().startswith("dln-git verify: 2 claims")
    busy, noether_done = None, False
    while busy is None or not noether_done:
        line = process.stdout.readline()
        assert line, "the CLI ended early"
        ready = re.search(r"READY (\d+)", line)  # worker and parent share the pipe
        if ready:
            busy = int(ready.group(1))
        noether_done |= "PASS  core.noether" in line
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group
    out, err = _finish(process)
    assert process.returncode == 130
    assert err == "dln-git verify: interrupted: 1 of 2 claims done (1 of 2 instances); no report written\n"
    assert "Traceback" not in out and not report.exists()
    assert _gone(busy)


@POSIX
def test_closed_stdout_exits_141_without_a_traceback(tmp_path):
    process = _start_cli(tmp_path, "verify", "--claim", "slow.go", "core.noether")
    assert process.stdout.readline().startswith("dln-git verify:")
    process.stdout.close()  # `| head -1`
    (tmp_path / "GO").touch()
    _, err = _finish(process)
    assert process.returncode == 141
    assert err == ""
