"""dln_git.experiments: grids through any executor, tidy tables saved and read back."""

from __future__ import annotations

import concurrent.futures as cf
import math

import pytest

from dln_git.experiments import grid, load_table, run_grid, save_table


def _square(point):
    return {"y": point["x"] ** 2, "ok": point["x"] > 1}


def _two_rows(point):
    return [{"k": 0, "v": point["x"]}, {"k": 1, "v": -point["x"]}]


def test_grid_is_the_cartesian_product_last_axis_fastest():
    g = grid(a=[1, 2], b="xyz")
    assert len(g) == 6 and g[0] == {"a": 1, "b": "x"} and g[1] == {"a": 1, "b": "y"} and g[-1] == {"a": 2, "b": "z"}
    with pytest.raises(ValueError, match="axis 'b' is empty"):
        grid(a=[1], b=[])


@pytest.mark.parametrize("how", ["serial", "threads", "processes"])
def test_rows_come_back_in_point_order_whatever_the_executor(how):
    points = grid(x=[5, 1, 3, 2], seed=[0])
    if how == "serial":
        rows = run_grid(_square, points, jobs=1, progress=False)
    elif how == "threads":
        with cf.ThreadPoolExecutor(3) as ex:
            rows = run_grid(_square, points, executor=ex, progress=False)
    else:
        rows = run_grid(_square, points, jobs=2, progress=False)
    assert [r["x"] for r in rows] == [5, 1, 3, 2]
    assert [r["y"] for r in rows] == [25, 1, 9, 4]
    assert all(r["seed"] == 0 for r in rows)


def test_a_task_may_return_several_rows_and_may_not_overwrite_the_point():
    rows = run_grid(_two_rows, grid(x=[1, 2]), jobs=1, progress=False)
    assert [(r["x"], r["k"], r["v"]) for r in rows] == [(1, 0, 1), (1, 1, -1), (2, 0, 2), (2, 1, -2)]
    with pytest.raises(ValueError, match="overwrites the grid keys"):
        run_grid(lambda p: {"x": 0}, grid(x=[1]), jobs=1, progress=False)
    with pytest.raises(TypeError, match="dict or a list of dicts"):
        run_grid(lambda p: 3, grid(x=[1]), jobs=1, progress=False)
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        run_grid(_square, grid(x=[1]), jobs=0)
    with pytest.raises(TypeError, match="executor must be"):
        run_grid(_square, grid(x=[1]), executor=object())


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_tables_round_trip_with_non_finite_values(tmp_path, suffix):
    rows = [
        {"lr": 0.1, "seed": 0, "loss": float("nan"), "stable": False, "name": "penalty"},
        {"lr": 0.2, "seed": 1, "loss": float("inf"), "stable": True, "name": "none", "extra": 3},
    ]
    back = load_table(save_table(rows, tmp_path / f"t{suffix}"))
    assert back[0]["lr"] == 0.1 and back[1]["seed"] == 1 and back[0]["name"] == "penalty"
    assert math.isnan(back[0]["loss"]) and back[1]["loss"] == math.inf
    assert back[0]["stable"] is False and back[1]["stable"] is True
    assert back[0].get("extra") is None and back[1]["extra"] == 3


def test_tables_refuse_non_scalar_cells_and_unknown_suffixes(tmp_path):
    with pytest.raises(TypeError, match="column 'v' holds a list"):
        save_table([{"v": [1, 2]}], tmp_path / "t.csv")
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        save_table([{"v": 1}], tmp_path / "t.txt")
