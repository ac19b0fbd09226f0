"""Every code block of the README runs.

The blocks are read from README.md and run in document order in one temporary working directory
(a block may use the files an earlier block wrote, as a reader following the README would):

* ``python`` blocks run in a fresh interpreter each (``sys.executable``), so a block that
  registers a claim or starts a cluster leaves nothing behind in the test process; every
  ``test_*`` function a block defines is then called (the Hypothesis example). A block preceded by
  ``<!-- readme-test: file NAME -->`` is also written to ``NAME`` (a module a later command
  imports).
* ``bash`` blocks run line by line through the shell with the interpreter's ``bin`` directory
  first on ``PATH`` (so ``dln-git`` is this installation's), except the two install commands for
  a fresh machine: they create a virtual environment and install the package, which is exactly
  what ``.ci/run`` does; the test checks that ``.ci/run`` runs the test command verbatim and that
  the first command's steps are among its steps (``.ci/run`` is what CI executes).
* blocks without a language are CLI synopses: every ``--flag`` they list must be accepted by that
  subcommand (its ``--help`` lists it).

Running one block alone (``-k``) runs the blocks before it first, in the same directory.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
FILE_MARK = re.compile(r"<!-- readme-test: file (\S+) -->\s*\Z")
INSTALL = "python3 -m venv .venv"


def readme_blocks() -> list[dict]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()]
        mark = FILE_MARK.search(before)
        blocks.append({"lang": m.group(1), "code": m.group(2), "line": before.count("\n") + 1,
                       "file": mark.group(1) if mark else None})
    return blocks


BLOCKS = readme_blocks()


def _env() -> dict:
    env = dict(os.environ)
    bindir = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (".", env.get("PYTHONPATH")) if p)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


def _run_python(block: dict, cwd: pathlib.Path) -> None:
    if block["file"]:
        (cwd / block["file"]).write_text(block["code"], encoding="utf-8")
    script = cwd / f"_readme_block_{block['line']}.py"
    calls = "\n".join(f"{name}()" for name in re.findall(r"^def (test_\w+)\(", block["code"], re.M))
    script.write_text(block["code"] + ("\nif __name__ == '__main__':\n" + "\n".join(
        "    " + c for c in calls.splitlines()) + "\n" if calls else ""), encoding="utf-8")
    run = subprocess.run([sys.executable, script.name], cwd=cwd, env=_env(), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, f"README line {block['line']}:\n{block['code']}\n{run.stdout}\n{run.stderr}"


def _ci_command() -> str:
    """The command line of ``.ci/run`` (its ``pip install -q`` only quietens pip)."""
    line = next(ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.startswith(INSTALL))
    return line.replace("pip install -q ", "pip install ")


def _check_install_command(command: str) -> None:
    ci = _ci_command()
    if "pytest" in command:
        assert command == ci, f"the README's test command differs from what .ci/run runs:\n{command}\n{ci}"
        return
    ci_steps = [step.strip() for step in ci.split("&&")]
    for step in (step.strip() for step in command.split("&&")):
        if step == ".venv/bin/pip install .":
            assert ".venv/bin/pip install '.[test]'" in ci_steps  # the test extra includes the base install
        elif step.startswith(".venv/bin/dln-git verify"):
            assert any(s.startswith(step) for s in ci_steps), step
        else:
            assert step in ci_steps, step


def _run_bash(block: dict, cwd: pathlib.Path) -> None:
    for line in block["code"].splitlines():
        command = line.split("  #", 1)[0].strip()
        if not command:
            continue
        if command.startswith(INSTALL):
            _check_install_command(command)
            continue
        run = subprocess.run(command, shell=True, cwd=cwd, env=_env(), capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, f"README line {block['line']}: {command}\n{run.stdout}\n{run.stderr}"


def _check_synopsis(block: dict) -> None:
    for entry in re.split(r"\n(?=dln-git )", block["code"].strip()):
        words = entry.split()
        assert words[0] == "dln-git", entry
        sub = words[1]
        run = subprocess.run([sys.executable, "-m", "dln_git", sub, "--help"], env=_env(),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        for flag in re.findall(r"--[a-z][a-z-]*", entry.split("#", 1)[0]):
            assert flag in run.stdout, f"README synopsis of `dln-git {sub}` lists {flag}; its --help does not"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return {"dir": tmp_path_factory.mktemp("readme"), "done": set()}


def _run(block: dict, cwd: pathlib.Path) -> None:
    if block["lang"] == "python":
        _run_python(block, cwd)
    elif block["lang"] == "bash":
        _run_bash(block, cwd)
    elif block["lang"] == "":
        _check_synopsis(block)
    else:
        raise AssertionError(f"README line {block['line']}: no rule for a ```{block['lang']} block")


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"line{b['line']}" for b in BLOCKS])
def test_readme_block_runs(index, workdir):
    for earlier in range(index):
        if earlier not in workdir["done"]:
            _run(BLOCKS[earlier], workdir["dir"])
            workdir["done"].add(earlier)
    _run(BLOCKS[index], workdir["dir"])
    workdir["done"].add(index)


def test_readme_has_blocks_of_each_kind():
    kinds = {b["lang"] for b in BLOCKS}
    assert {"python", "bash", ""} <= kinds and len(BLOCKS) >= 10
