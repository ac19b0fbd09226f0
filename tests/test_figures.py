"""The paper figures: the smoke build of every figure writes a real, non-blank PNG and a PDF; the
figures' closed-form predictions agree with the library; the style helpers and the entry points."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.image import imread

import dln_git as dg
import dln_git.figures as figures_pkg
from dln_git import plotting
from dln_git.figures import FIGURES, build

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_build(tmp_path_factory):
    """``dln-git figures --smoke --out DIR`` (the CLI entry point), paths read from its output."""
    import contextlib
    import io

    from dln_git import cli

    out = tmp_path_factory.mktemp("figures")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["figures", "--smoke", "--out", str(out)]) == 0
    return out, [pathlib.Path(line) for line in stdout.getvalue().split()]


def _check_png(path: pathlib.Path):
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 200, img.shape
    gray = img[..., :3].mean(axis=-1)
    assert gray.std() > 0.05, f"{path.name} looks blank (pixel std {gray.std():.3f})"
    # a figure has ink: a few percent of the pixels are clearly not white
    assert (gray < 0.8).mean() > 0.01, f"{path.name} has almost no ink"


def _check_pdf(path: pathlib.Path):
    data = path.read_bytes()
    assert data.startswith(b"%PDF"), path
    assert len(data) > 2000 and b"%%EOF" in data[-64:], path


@pytest.mark.parametrize("name", list(FIGURES))
def test_smoke_build_writes_real_images(smoke_build, name):
    out, paths = smoke_build
    mine = [p for p in paths if p.stem == name]
    assert sorted(p.suffix for p in mine) == [".pdf", ".png"]
    for p in mine:
        assert p.exists() and p.parent == out
        (_check_png if p.suffix == ".png" else _check_pdf)(p)


def test_build_returns_every_file_once(smoke_build):
    _, paths = smoke_build
    assert len(paths) == 2 * len(FIGURES) == len(set(paths))
    assert all(isinstance(p, pathlib.Path) for p in paths)


def test_figures_registry():
    names = list(FIGURES)
    assert names == sorted(names, key=lambda n: int(n[3:].split("_")[0]))
    assert {"fig1_fiber", "fig2_l2_rate", "fig3_moment_flow", "fig4_regularizer", "fig5_balancing_cost",
            "fig6_training", "fig7_fast_slow", "fig8_conservation_laws"} <= set(names)
    for mod in FIGURES.values():
        assert callable(mod.make) and set(mod.PARAMS) == set(plotting.SIZES)


def test_unknown_name_raises_listing_the_names(tmp_path):
    with pytest.raises(ValueError, match="fig1_fiber") as err:
        build(tmp_path, only="fig99_nothing", size="smoke")
    assert "fig99_nothing" in str(err.value)
    assert not any(tmp_path.iterdir()), "nothing is built when a name is unknown"
    with pytest.raises(ValueError, match="size"):
        build(tmp_path, only="fig1_fiber", size="poster")


def test_python_m_paper_figures(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "paper_figures", "--smoke", "--only", "fig1_fiber",
                          "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "fig1_fiber" in run.stdout
    _check_png(out / "fig1_fiber.png")
    _check_pdf(out / "fig1_fiber.pdf")
    bad = subprocess.run([sys.executable, "-m", "paper_figures", "--smoke", "--only", "nope", "--out", str(out)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "fig1_fiber" in bad.stderr


# --------------------------------------------------------------------------------------------
# The predictions the figures draw agree with the library
# --------------------------------------------------------------------------------------------
def test_fig1_closed_forms_match_the_flows():
    from dln_git.figures.fig1_fiber import predicted_u

    x, w1 = 1.5, 3.0
    W = (np.array([[w1]]), np.array([[x / w1]]))
    t = np.linspace(0, 1.0, 6)
    u0 = np.log(w1 * w1 / x)
    for flow, fn in (("l2", dg.l2_flow), ("moment", dg.moment_flow)):
        res = fn(W, 1.0, t_eval=t, record="weights", rtol=1e-10)
        u = np.array([np.log(w[0][0, 0] / w[1][0, 0]) for w in res.trajectory])
        np.testing.assert_allclose(u, predicted_u(u0, res.times, x, flow), atol=1e-7)


def test_fig3_linearised_rate_is_the_equal_width_formula():
    from dln_git.figures._common import with_spectrum
    from dln_git.figures.fig3_moment_flow import formula_rate, linearised_rate

    rng = np.random.default_rng(0)
    for widths in ((3, 3, 3), (2, 2, 2, 2)):
        W = with_spectrum(widths, [1.7, 1.1, 0.6][: min(widths)], rng)
        limit = dg.balance(W, method="newton").weights
        assert linearised_rate(limit) == pytest.approx(formula_rate(W), rel=1e-8)
    # excess width, N = 2: half the equal-width formula (2 s_min)
    W = with_spectrum((2, 4, 2), [1.3, 0.7], rng)
    assert linearised_rate(dg.balance(W, method="newton").weights) == pytest.approx(2 * 0.7, rel=1e-8)


# --------------------------------------------------------------------------------------------
# dln_git.plotting
# --------------------------------------------------------------------------------------------
def test_style_restores_rcparams_and_save_writes_both(tmp_path):
    before = matplotlib.rcParams["font.size"]
    with plotting.style():
        assert matplotlib.rcParams["font.size"] == plotting.RC_PARAMS["font.size"]
        fig, axes = plotting.figure(ncols=2)
        axes[0].plot([0, 1], [1, 0], color=plotting.PALETTE["l2"], label="measured")
        plotting.prediction_line(axes[0], [0, 1], [1, 0.1], label="theory", lw=2)
        plotting.guide_line(axes[1], [0, 1], [0, 1])
        plotting.panel_label(axes[0], "a", "title")
        plotting.note(axes[1], "note", loc="upper right")
        paths = plotting.save(fig, tmp_path / "sub", "demo", size="smoke")
    assert matplotlib.rcParams["font.size"] == before
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    _check_png(paths[0])
    assert paths[1].read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="size"):
        plotting.save(fig, tmp_path, "demo", size="huge")


def test_package_exports():
    assert figures_pkg.__all__ == ["DEFAULT_OUT", "FIGURES", "build"]
    assert set(plotting.REGIME_COLORS) >= {c.regime for c in figures_pkg._common.REGIME_CASES}


def test_repository_paper_figures_folder_is_outputs_and_entry_point(monkeypatch):
    """``paper_figures/`` (repository only, not installed) re-exports the package's figures and
    points at the committed build; the wheel's packages are ``dln_git*`` only."""
    import importlib
    import tomllib

    monkeypatch.syspath_prepend(str(REPO))  # not installed: importable from the repository root only
    paper_figures = importlib.import_module("paper_figures")

    assert paper_figures.FIGURES is FIGURES and paper_figures.build is build
    assert paper_figures.COMMITTED_OUT == REPO / "paper_figures" / "output"
    assert {p.name for p in paper_figures.COMMITTED_OUT.glob("*.png")} == {f"{n}.png" for n in FIGURES}
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert include["include"] == ["dln_git*"]
