"""Sphinx extension: write the API reference pages, one per public module, at build time.

The pages go to ``docs/api/generated/`` (gitignored) when the builder starts, before Sphinx looks
for sources. They are written here rather than by autosummary's recursive stub generation because
several modules are shadowed in their package by a function of the same name
(``dln_git.core.moment_map`` is both a module and, in ``dln_git.core``, the function it defines),
and autosummary then documents the function in place of the module.

Every layer of :data:`LAYERS` gets a page listing its modules (with their one-line summaries) and
one page per module: the module docstring, then its public functions and classes (those defined
in the module itself, with a docstring, and in its ``__all__`` when it has one: nothing is
documented twice and every row of the contents table links), plus the data names ``__all__``
exports. Subpackages (``dln_git.core.gram`` after a split) are walked like the layer itself.
A file is rewritten only when its content changes, so incremental builds stay incremental.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

#: (package or module, title, one-line description) for each entry of the API reference.
LAYERS = (
    ("dln_git.core", "Geometry: dln_git.core",
     "Weights, the end-to-end map, the gauge action, the moment map and the regularizer, the Gram "
     "operator and the end-to-end metric with their solvers, the projections, the SVD chart and the "
     "width regimes (sections 1 and 2 of the mathematical reference)."),
    ("dln_git.symbolic", "Symbolic derivations: dln_git.symbolic",
     "sympy: the action on symbolic matrices, the moment map and the Kempf–Ness conditions derived "
     "from it, identities proved to exactly zero, conservation laws, Wick correlators."),
    ("dln_git.flows", "Balancing flows: dln_git.flows",
     "The L2 and squared-moment-map flows, the group integrators that keep X fixed, Newton balancing "
     "(section 3)."),
    ("dln_git.decomposition", "Training and its decomposition: dln_git.decomposition",
     "Losses of X, training by gradient flow, GD and SGD, the vertical/horizontal split, the learning "
     "flow and the fast-slow system (section 4)."),
    ("dln_git.systems", "Linear systems and Bayesian readings: dln_git.systems",
     "Realizations, Gramians, balanced realization and truncation, the network reading, the induced "
     "prior and posterior sampling (section 5)."),
    ("dln_git.symmetries", "Related symmetry systems: dln_git.symmetries",
     "ReLU gauge fixing, SGD noise equilibria, quotient observables, local entropy and Burgers "
     "shocks, symmetry via duality (section 6)."),
    ("dln_git.claims", "Claims and verify: dln_git.claims",
     "The registry of claims, the checks of each layer and the runner behind dln-git verify."),
    ("dln_git.testing", "Testing helpers: dln_git.testing",
     "Public Hypothesis strategies, dense references for small sizes, random losses."),
    ("dln_git.io", "Weights files: dln_git.io", "Reading and writing weights (.npz, .safetensors)."),
    ("dln_git.results_io", "Saved results: dln_git.results_io",
     "Saving and reloading every result object (and verify reports) without pickle."),
    ("dln_git.experiments", "Experiments: dln_git.experiments",
     "Grids of runs through any concurrent.futures.Executor, saved as tidy tables."),
    ("dln_git.plotting", "Plot style: dln_git.plotting", "The one matplotlib style of every figure."),
    ("dln_git.figures", "Paper figures: dln_git.figures",
     "One module per figure of the paper, each computed from the library."),
    ("dln_git.cli", "Command line: dln_git.cli", "The dln-git command (verify, figures, derive, balance)."),
)


def _public_modules(package: str) -> list[tuple[str, bool]]:
    """``(name, is_package)`` of every public module under ``package`` (itself first)."""
    mod = importlib.import_module(package)
    out = [(package, hasattr(mod, "__path__"))]
    if hasattr(mod, "__path__"):
        for info in sorted(pkgutil.walk_packages(mod.__path__, package + "."), key=lambda i: i.name):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            out.append((info.name, info.ispkg))
    return out


def _members(modname: str) -> tuple[list[str], list[str], list[str]]:
    """Classes, functions and data names documented on ``modname``'s page."""
    mod = importlib.import_module(modname)
    classes, functions, data = [], [], []
    for name, value in vars(mod).items():
        if name.startswith("_") or getattr(value, "__module__", None) != modname:
            continue
        if not (getattr(value, "__doc__", None) or "").strip():  # autodoc skips undocumented members
            continue
        if inspect.isclass(value):
            classes.append(name)
        elif inspect.isfunction(value):
            functions.append(name)
    exported = getattr(mod, "__all__", None)
    if exported is not None:  # autodoc documents only what __all__ declares public
        classes = [name for name in classes if name in exported]
        functions = [name for name in functions if name in exported]
    for name in exported or ():
        value = getattr(mod, name, None)
        if not (inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value)):
            data.append(name)
    # the order of the source file
    try:
        source = inspect.getsource(mod)
    except (OSError, TypeError):
        source = ""

    def position(name):
        for key in (f"def {name}(", f"class {name}(", f"class {name}:", f"{name} =", f"{name}:"):
            at = source.find(key)
            if at >= 0:
                return at
        return len(source)

    return sorted(classes, key=position), sorted(functions, key=position), sorted(data, key=position)


def _title(text: str) -> str:
    text = text.replace("_", r"\_")
    return f"{text}\n{'=' * len(text)}\n"


def _module_page(modname: str, is_package: bool, submodules: list[str]) -> str:
    classes, functions, data = _members(modname)
    lines = [_title(modname), f".. automodule:: {modname}"]
    members = data + classes + functions
    if members:
        lines.append(f"   :members: {', '.join(members)}")
    else:
        lines.append("   :no-members:")
    lines.append("")
    if classes or functions:
        lines += [".. rubric:: Contents", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in classes + functions]
        lines.append("")
    if is_package and submodules:
        lines += [".. rubric:: Modules", "", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [*[f"   {m}" for m in submodules], ""]
    return "\n".join(lines)


def _layer_page(package: str, title: str, description: str, modules: list[tuple[str, bool]]) -> str:
    root, *rest = modules
    if not rest:  # a single module: its page is the layer page
        return _module_page(root[0], False, [])
    children = [name for name, _ in rest if name.count(".") == package.count(".") + 1]
    lines = [_title(title), description, "", f".. automodule:: {package}", "   :no-members:", "",
             ".. rubric:: Modules", "", ".. toctree::", "   :maxdepth: 1", "", *[f"   {m}" for m in children], ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_api_pages(app) -> None:
    out = Path(app.srcdir) / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for package, title, description in LAYERS:
        modules = _public_modules(package)
        pages = {f"layer_{package}": _layer_page(package, title, description, modules)}
        if len(modules) > 1:
            for name, is_package in modules[1:]:
                subs = [m for m, _ in modules if m.startswith(name + ".") and m.count(".") == name.count(".") + 1]
                pages[name] = _module_page(name, is_package, subs)
        for stem, text in pages.items():
            _write(out / f"{stem}.rst", text)
            wanted.add(f"{stem}.rst")
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()


def setup(app):
    app.connect("builder-inited", write_api_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
