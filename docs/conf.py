"""Sphinx configuration of the dln-git documentation.

Nothing is downloaded at build time (no intersphinx inventories). The notebooks of
``notebooks/`` (reached through the committed relative symlink ``docs/notebooks -> ../notebooks``)
are stored without outputs and executed by myst-nb at build time on a local kernel. Build with warnings as errors::

    sphinx-build -W docs docs/_build/html

The API pages are written at build time by the local extension ``_ext/api_pages.py`` into
``docs/api/generated/`` (gitignored); autosummary only draws the summary tables in them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# matplotlib must not look for a display or write a cache into the source tree while importing
os.environ.setdefault("MPLBACKEND", "Agg")

import dln_git  # noqa: E402

project = "dln-git"
author = "dln-git developers"
copyright = "dln-git developers"
release = dln_git.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "claims_table",
    "api_pages",
    "reexports",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "notebooks/README*"]
templates_path = ["_templates"]

# --- API reference -------------------------------------------------------------------------------
autosummary_generate = False  # the pages come from _ext/api_pages.py
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False
numpydoc_xref_param_type = False

# --- Markdown and notebooks ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "auto"  # the notebooks are stored without outputs: executed at build time to render them
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_merge_streams = True

# --- HTML ----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"dln-git {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
