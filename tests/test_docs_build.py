"""The documentation builds with warnings as errors (``sphinx-build -W``), as in CI.

Sphinx, numpydoc, myst-nb and furo come with the test extra (``pip install '.[test]'``); without
them this test fails, it does not skip: a docstring that breaks the site must break CI. The build
reads the sources in ``docs/`` and writes only into ``tmp_path`` and the gitignored
``docs/api/generated/`` (the autosummary pages); nothing is downloaded and no notebook is executed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD_PACKAGES = ("sphinx", "numpydoc", "myst_nb", "myst_parser", "furo")
GENERATED = DOCS / "api" / "generated"  # the only place the build writes into the source tree (gitignored)


def _source_files() -> dict[str, int]:
    """Every file of the repository (not hidden folders such as .venv or .git, not build/dist, not
    the gitignored build folders of docs/), with its modification time."""
    skip = (GENERATED, DOCS / "_build")
    out = {}
    for top in ROOT.iterdir():
        if top.name.startswith(".") or top.name in ("build", "dist") or top.name.endswith(".egg-info"):
            continue
        for path in [top] if top.is_file() else top.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and not any(path.is_relative_to(s) for s in skip):
                out[str(path.relative_to(ROOT))] = path.stat().st_mtime_ns
    return out


def test_docs_build_with_warnings_as_errors(tmp_path):
    missing = [name for name in BUILD_PACKAGES if importlib.util.find_spec(name) is None]
    assert not missing, (
        f"the documentation build needs {', '.join(missing)}: install the test extra "
        "(pip install '.[test]') or the docs extra (pip install '.[docs]')"
    )
    before = _source_files()
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"sphinx-build -W failed (exit {proc.returncode}); warnings and errors:\n{proc.stderr[-8000:]}"
    )
    html = tmp_path / "html"
    for page in ("index.html", "math/index.html", "guide/index.html", "api/index.html",
                 "notebooks/01_quickstart.html"):
        assert (html / page).is_file(), f"the build did not write {page}"
    after = _source_files()
    touched = sorted(k for k in after.keys() | before.keys() if before.get(k) != after.get(k))
    assert not touched, f"the build wrote into the source tree outside docs/api/generated: {touched[:10]}"
