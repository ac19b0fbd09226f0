"""`dln-git verify --import MODULE`: claims registered by the user's own module (in the working
directory) are selected and run, and the report's rerun line carries the --import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

USER_CLAIMS = textwrap.dedent('''
    from dln_git.claims.registry import ClaimResult, register

    @register("mine.ok", "1 + 1 = 2", section="0", tag="known")
    def _ok(rng, size):
        return ClaimResult(2.0, 2.0, 0.0, passed=True, detail="arithmetic")

    @register("mine.bad", "a claim that fails on every seed", section="0", tag="known")
    def _bad(rng, size):
        return ClaimResult(1.0, 0.0, 0.5, passed=False, detail="fails on purpose")
''')


def _run(cwd, *args):
    return subprocess.run([sys.executable, "-m", "dln_git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_verify_imports_the_users_module_and_the_rerun_line_says_so(tmp_path):
    (tmp_path / "my_claims.py").write_text(USER_CLAIMS)
    ok = _run(tmp_path, "verify", "--import", "my_claims", "--claim", "mine.ok")
    assert ok.returncode == 0, ok.stderr
    assert "mine.ok" in ok.stdout and "1 passed" in ok.stdout
    bad = _run(tmp_path, "verify", "--import", "my_claims", "--claim", "mine.*", "--seeds", "2")
    assert bad.returncode == 1
    assert "reproduce with `dln-git verify --import my_claims --claim mine.bad --seed 0 --size small`" in bad.stdout
    # without --import the user's claims are unknown: a usage error naming --claim
    unknown = _run(tmp_path, "verify", "--claim", "mine.ok")
    assert unknown.returncode == 2 and "--claim" in unknown.stderr


def test_verify_import_errors_name_the_flag(tmp_path):
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('boom at import')\n")
    r = _run(tmp_path, "verify", "--import", "broken_mod", "--claim", "core.*")
    assert r.returncode == 2 and "argument --import" in r.stderr and "boom at import" in r.stderr
    r = _run(tmp_path, "verify", "--import", "no_such_module_xyz")
    assert r.returncode == 2 and "no_such_module_xyz" in r.stderr
