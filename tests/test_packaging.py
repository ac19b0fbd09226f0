"""Packaging facts a user relies on: one version source, the license, typing marker, classifiers
for the Python versions tested, a changelog entry for the version, extras for what they bring."""

from __future__ import annotations

import importlib.metadata
import pathlib
import sys
import tomllib

import dln_git

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_one_version_source():
    project = PROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dln_git.__version__"}
    assert importlib.metadata.version("dln-git") == dln_git.__version__


def test_license_typing_marker_and_changelog():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert (ROOT / "dln_git" / "py.typed").is_file()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["dln_git"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{dln_git.__version__}]" in changelog or "## Unreleased" in changelog


def test_classifiers_name_the_python_running_the_tests():
    classifiers = PROJECT["project"]["classifiers"]
    assert f"Programming Language :: Python :: {sys.version_info.major}.{sys.version_info.minor}" in classifiers
    assert "License :: OSI Approved :: MIT License" in classifiers


def test_extras_are_in_the_test_extra():
    extras = PROJECT["project"]["optional-dependencies"]
    test = set(extras["test"])
    for name, deps in extras.items():
        assert name in {"test", "digits", "safetensors", "distributed", "docs"}, name
        assert set(deps) <= test, f"extra {name!r} is not tested: {set(deps) - test}"
