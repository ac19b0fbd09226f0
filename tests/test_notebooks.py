"""Every notebook in ``notebooks/`` is stored without outputs and executes without error.

The notebooks are executed with nbclient in a ``python3`` kernel that runs the interpreter running
pytest (``sys.executable``) and imports the same ``dln_git`` as this process, with matplotlib's
Agg backend. A failing cell fails the test with the cell's source and traceback. nbformat, nbclient
and ipykernel are in the ``test`` extra: without them these tests fail (they do not skip).
"""

import ast
import importlib
import json
import os
import re
import site
import sys
from pathlib import Path

import pytest

import dln_git

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds per cell
MISSING = "executing the notebooks needs nbformat, nbclient and ipykernel: pip install '.[test]'"

# The directory ``dln_git`` was imported from in this process: the kernel must import the same copy
# (the working tree under PYTHONPATH=., the installed copy in CI's virtual environment).
PACKAGE_ROOT = Path(dln_git.__file__).resolve().parents[1]

# Appended to the in-memory copy (never stored): proves which interpreter and package ran the notebook.
_PROBE = "import sys, dln_git; print(repr((sys.executable, dln_git.__file__)))"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours of IPython tracebacks


def _require(module):
    """Import ``module``, or fail (not skip: a missing dependency must not pass silently)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = str(exc)
    pytest.fail(f"{MISSING} ({reason})", pytrace=False)


def _kernel_pythonpath():
    """PYTHONPATH for the kernel: this process's entries made absolute (the kernel runs in
    ``notebooks/``), preceded by the directory of ``dln_git`` unless that is a site directory."""
    entries = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    site_dirs = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if PACKAGE_ROOT not in site_dirs:
        entries.insert(0, str(PACKAGE_ROOT))
    return os.pathsep.join(dict.fromkeys(entries))


def _kernel_manager(spec_dir):
    """A ``python3`` kernel manager whose spec is ``sys.executable -m ipykernel_launcher``."""
    _require("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernel_dir = spec_dir / "python3"
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (pytest)",
        "language": "python",
        "env": {"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }
    pythonpath = _kernel_pythonpath()
    if pythonpath:
        spec["env"]["PYTHONPATH"] = pythonpath
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    # Only this directory: a user-level or system "python3" spec cannot shadow it.
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat 4 notebook"
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} have stored outputs or execution counts; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nbformat = _require("nbformat")
    _require("nbclient")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the notebook's directory as cwd
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError as exc:  # its message holds the failing cell's source and traceback
        failure = _ANSI.sub("", str(exc))
    if failure is not None:
        pytest.fail(f"{path.name} failed:\n{failure}", pytrace=False)

    probe = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.get("name") == "stdout")
    executable, package = ast.literal_eval(probe)
    assert Path(executable) == Path(sys.executable)
    assert Path(package).resolve() == Path(dln_git.__file__).resolve()
