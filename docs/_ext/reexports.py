"""Sphinx extension: Python cross-references to re-exported names resolve to where they are documented.

The API reference documents every function and class once, in the module that defines it
(``dln_git.core.moment_map.moment_map``), but docstrings refer to objects by the names users
import (``dln_git.moment_map``, ``dln_git.flows.l2_flow``) or by names relative to a package
(``solve_gram`` inside ``dln_git.core.gram``). When the Python domain finds no target, this
handler imports the name (as written, then relative to the referring module and each of its parent
packages), takes the object's defining module and qualified name, and resolves that instead.
Names it cannot import stay unresolved, as before (plain code, no warning unless nitpicky).
"""

from __future__ import annotations

import importlib


def _import(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        except Exception:  # a module failing to import is not this handler's business
            return None
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _canonical(obj) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return f"{module}.{qualname}"
    return None


def _candidates(target: str, modname: str | None, clsname: str | None):
    target = target.lstrip(".~")
    yield target
    if modname:
        parts = modname.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if clsname:
                yield f"{prefix}.{clsname}.{target}"
            yield f"{prefix}.{target}"


def resolve_reexport(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith(("dln_git", ".", "~")) and not (node.get("py:module") or "").startswith("dln_git"):
        return None
    domain = env.domains.python_domain
    for candidate in _candidates(target, node.get("py:module"), node.get("py:class")):
        obj = _import(candidate)
        canonical = _canonical(obj) if obj is not None else None
        if not canonical or not canonical.startswith("dln_git") or canonical == target:
            continue
        retry = node.deepcopy()
        retry["reftarget"] = canonical
        retry["refspecific"] = False
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, retry, contnode)
        if found is not None:
            return found
    return None


def setup(app):
    app.connect("missing-reference", resolve_reexport)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
