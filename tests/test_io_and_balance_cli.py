"""Weights in and out (dln_git.io) and `dln-git balance`: round trips through .npz and .safetensors,
layer selection by names and patterns, the balanced output checked independently (mu of the written
weights, X against the input's product, R against the SVD value (N/2) sum s^{2/N})."""

from __future__ import annotations

import numpy as np
import pytest

import dln_git as dg
from dln_git import cli
from dln_git.io import load_named_weights, load_weights, save_weights


def _net(rng, widths=(5, 4, 3, 4, 6)):
    W = dg.random_weights(widths, rng=rng)
    g = [np.diag(np.exp(rng.normal(scale=1.5, size=d))) for d in widths[1:-1]]  # far from balance
    return dg.gauge_act(g, W)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_load_round_trip_is_exact(tmp_path, suffix):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    W = _net(np.random.default_rng(0))
    path = save_weights(tmp_path / f"w{suffix}", W)
    back = load_weights(path)
    assert len(back) == len(W) and all(np.array_equal(a, b) for a, b in zip(back, W, strict=True))
    assert not any(np.shares_memory(a, b) for a, b in zip(back, W, strict=True))
    assert not list(tmp_path.glob(".*partial*"))


def test_layers_by_names_and_by_natural_order_pattern(tmp_path):
    rng = np.random.default_rng(1)
    W = dg.random_weights((3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2), rng=rng)  # 11 layers: layer10 after layer9
    names = [f"enc.layer{i}.weight" for i in range(1, 12)]
    path = tmp_path / "torchlike.npz"
    np.savez(path, **dict(zip(names, W, strict=True)), **{"enc.layer1.bias": np.zeros(4)})
    chosen, back = load_named_weights(path, "enc.layer*.weight")
    assert chosen == names and all(np.array_equal(a, b) for a, b in zip(back, W, strict=True))
    assert np.array_equal(load_weights(path, names[:2])[1], W[1])
    with pytest.raises(ValueError, match="matches none"):
        load_weights(path, "dec.*")
    with pytest.raises(ValueError, match="not in the file"):
        load_weights(path, ["enc.layer1.weight", "nope"])
    with pytest.raises(ValueError, match="no layers named W_1"):
        load_weights(path)
    with pytest.raises(ValueError, match="2-D"):
        load_weights(path, ["enc.layer1.bias"])
    with pytest.raises(ValueError, match=r"\.npz or \.safetensors"):
        save_weights(tmp_path / "w.pt", W)
    with pytest.raises(ValueError, match="distinct"):
        save_weights(tmp_path / "w.npz", W[:2], names=["a", "a"])


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_balance_cli_round_trip(tmp_path, suffix, capsys):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    W = _net(np.random.default_rng(2))
    src = save_weights(tmp_path / f"in{suffix}", W, names=["a.w", "b.w", "c.w", "d.w"])
    out = tmp_path / f"out{suffix}"
    assert cli.main(["balance", str(src), "-o", str(out), "--layers", "a.w", "b.w", "c.w", "d.w"]) == 0
    text = capsys.readouterr().out
    assert "converged" in text and "||mu||" in text and "min R" in text and "X drift" in text
    names, Wb = load_named_weights(out, "*.w")
    assert names == ["a.w", "b.w", "c.w", "d.w"]
    # independent checks: mu of the written weights, X kept, R equal to the SVD value
    X0, X1 = np.linalg.multi_dot(W[::-1]), np.linalg.multi_dot(Wb[::-1])
    assert np.linalg.norm(X1 - X0) <= 1e-13 * np.linalg.norm(X0)
    mus = [Wb[i] @ Wb[i].T - Wb[i + 1].T @ Wb[i + 1] for i in range(3)]
    R = 0.5 * sum(np.sum(w**2) for w in Wb)
    assert np.sqrt(sum(np.sum(m**2) for m in mus)) <= 1e-11 * R
    s = np.linalg.svd(X0, compute_uv=False)[:3]  # rank 3 (the bottleneck); the rest are rounding, ~1e-16
    assert R == pytest.approx(2 * np.sum(s ** (2 / 4)), rel=1e-12)


def test_balance_cli_errors_and_non_convergence(tmp_path, capsys):
    W = _net(np.random.default_rng(3))
    src = save_weights(tmp_path / "in.npz", W)
    assert cli.main(["balance", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "o.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["balance", str(src), "-o", str(tmp_path / "o.txt")]) == 2
    assert "-o/--output" in capsys.readouterr().err
    assert cli.main(["balance", str(src), "-o", str(tmp_path / "o.npz"), "--method", "bogus"]) == 2
    assert "method" in capsys.readouterr().err
    # a moment flow with a two-step budget cannot reach 1e-12: exit 1, the weights reached still written
    code = cli.main(["balance", str(src), "-o", str(tmp_path / "o.npz"), "--method", "moment", "--max-iter", "2"])
    out = capsys.readouterr().out
    assert code == 1 and "NOT converged" in out
    Wo = load_weights(tmp_path / "o.npz")
    X0, X1 = np.linalg.multi_dot(W[::-1]), np.linalg.multi_dot(Wo[::-1])
    assert np.linalg.norm(X1 - X0) <= 1e-12 * np.linalg.norm(X0)


def test_balance_cli_progress_flag(tmp_path, capsys):
    """``--progress`` forces the flows' bar (on stderr), ``--no-progress`` keeps stderr silent."""
    src = save_weights(tmp_path / "in.npz", _net(np.random.default_rng(4)))
    out = tmp_path / "out.npz"
    assert cli.main(["balance", str(src), "-o", str(out), "--method", "moment", "--tol", "1e-8", "--progress"]) == 0
    assert "||mu||" in capsys.readouterr().err
    assert cli.main(["balance", str(src), "-o", str(out), "--method", "moment", "--tol", "1e-8", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
