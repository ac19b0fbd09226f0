"""Saving and loading result objects (dln_git.results_io): every registered result type, produced
by the library on a small instance, reloads equal; checked by ``results_equal`` and independently
by ``numpy.testing.assert_equal`` on ``dataclasses.asdict`` plus a walk comparing every array's
dtype and shape. Special values (complex, zero layers, NaN/inf diagnostics, empty tuples and
arrays, unicode), files written before a field existed, and the refusals (unregistered types,
callables, object arrays, foreign files, later format versions)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dln_git as dg
from dln_git import claims as cl
from dln_git import core, flows, io
from dln_git import decomposition as dec
from dln_git import symbolic as sb
from dln_git import symmetries as sm
from dln_git import systems as sy
from dln_git.claims import registry as registry_module
from dln_git.results_io import RESULT_TYPES, load_result, results_equal, save_result


def _rng(seed):
    return np.random.default_rng(seed)


def _W(seed=0, widths=(3, 2, 4), complex=False):
    return dg.random_weights(widths, rng=_rng(seed), complex=complex)


_Y = _rng(3).normal(size=(4, 3))


def _state_space(n_unstable=0):
    return sy.random_state_space(4, 1, 2, _rng(4), n_unstable=n_unstable)


def _net():
    return sm.random_relu_net((3, 4, 2), _rng(6))


#: One real result per registered type, each built by the public function that returns it.
FACTORIES = {
    "dln_git.core.GramSolution": lambda: core.solve_gram(_W(complex=True), core.moment_map(_W(1, complex=True))),
    "dln_git.core.MetricSolution": lambda: core.solve_end_to_end_metric(_W(widths=(3, 3, 3)),
                                                                        _rng(2).normal(size=(3, 3))),
    "dln_git.core.Regime": lambda: core.regime(_W()),
    "dln_git.flows.BalanceResult": lambda: flows.balance(_W(complex=True)),
    "dln_git.flows.FlowResult": lambda: flows.l2_flow(_W(), 0.5, record="weights", t_eval=[0.0, 0.25, 0.5]),
    "dln_git.flows.GeometricMeanBalance": lambda: flows.geometric_mean_balance(_W()),
    "dln_git.decomposition.TrainResult": lambda: dec.train(_W(), dec.SquaredDistance(_Y), method="gd", eta=0.05,
                                                           steps=5, record_weights=True),
    "dln_git.decomposition.LearningFlowResult": lambda: dec.learning_flow(
        dg.end_to_end(flows.balance(_W()).weights), dec.SquaredDistance(_Y), 2, t_final=0.2),
    "dln_git.decomposition.FastSlowResult": lambda: dec.fast_slow(_W(), dec.SquaredDistance(_Y), 0.1, t_final=0.2),
    "dln_git.decomposition.FastSlowDistance": lambda: dec.fast_slow_distance(_W(), dec.SquaredDistance(_Y), 0.1,
                                                                             t_final=0.2),
    "dln_git.decomposition.Split": lambda: dec.split(_W(), _W(5)),
    "dln_git.decomposition.LossGradient": lambda: dec.loss_value_and_gradient(_W(), dec.SquaredDistance(_Y), 0.1),
    "dln_git.systems.StateSpace": _state_space,
    "dln_git.systems.BalancedRealization": lambda: sy.balanced_realization(_state_space(n_unstable=1)),
    "dln_git.systems.TruncationResult": lambda: sy.balanced_truncation(_state_space(), order=1, n_freq=50),
    "dln_git.systems.Gramians": lambda: sy.gramians(_state_space()),
    "dln_git.systems.StableSplit": lambda: sy.split_stable(_state_space(n_unstable=1)),
    "dln_git.systems.NetworkReduction": lambda: sy.reduce_network(_W(), 1),
    "dln_git.systems.MapResult": lambda: sy.map_estimate(dec.SquaredDistance(np.eye(2)), (2, 2, 2), 0.1, 0, starts=2,
                                                         maxiter=50),
    "dln_git.systems.ProductPriorTest": lambda: sy.product_prior_test(0.5, 500, 0),
    "dln_git.systems.PosteriorSample": lambda: sy.sample_posterior(dec.SquaredDistance(np.eye(2)), (2, 2, 2), 0.5, 0,
                                                                   chains=2, n_samples=10, burn_in=10,
                                                                   record_weights=True),
    "dln_git.systems.ConcentrationTrend": lambda: sy.posterior_concentration(
        dec.SquaredDistance(np.eye(2)), (2, 2, 2), [0.5, 1.0], 0, chains=2, n_samples=10, burn_in=10),
    "dln_git.symmetries.BalanceResult": lambda: sm.balance_neurons(_net()),
    "dln_git.symmetries.HomogeneousNet": _net,
    "dln_git.symmetries.PenaltyFlowResult": lambda: sm.penalty_flow(_net(), 1.0, 0.1, n_times=3),
    "dln_git.symmetries.GaugeCoordinates": lambda: sm.gauge_coordinates(_net()),
    "dln_git.symbolic.ConservationLawCount": lambda: sb.count_conservation_laws((2, 2, 1), rng=0),
    "dln_git.claims.VerifyReport": lambda: cl.verify(["core.x_invariant", "core.noether"], seeds=2, progress=False),
    "dln_git.claims.ClaimSummary": lambda: cl.verify(["core.x_invariant"], progress=False).claims[0],
    "dln_git.claims.InstanceRun": lambda: cl.verify(["core.x_invariant"], progress=False).claims[0].instances[0],
    "dln_git.claims.ClaimRun": lambda: cl.run_claim(cl.get_claim("core.noether")),
    "dln_git.claims.ClaimResult": lambda: cl.run_claim(cl.get_claim("core.noether")).result,
    "dln_git.claims.Claim": lambda: cl.get_claim("core.noether"),
}


def _arrays(x, path="result"):
    """Every array (and numpy scalar) inside ``x`` with its path, dtype and shape, in order."""
    if isinstance(x, (np.ndarray, np.generic)):
        return [(path, type(x).__name__, x.dtype.str, x.shape)]
    if dataclasses.is_dataclass(x):
        return [a for f in dataclasses.fields(x) for a in _arrays(getattr(x, f.name), f"{path}.{f.name}")]
    if isinstance(x, (tuple, list)):
        items = [a for i, v in enumerate(x) for a in _arrays(v, f"{path}[{i}]")]
        return [(path, type(x).__name__, None, len(x)), *items]
    if isinstance(x, dict):
        return [a for k, v in x.items() for a in _arrays(v, f"{path}[{k!r}]")]
    return []


def _assert_round_trip(result, path):
    save_result(path, result)
    back = load_result(path)
    assert type(back) is type(result)
    assert results_equal(back, result) and results_equal(result, back)
    # independent of results_equal: numpy's recursive, NaN-aware comparison, and dtypes and shapes
    np.testing.assert_equal(dataclasses.asdict(back), dataclasses.asdict(result))
    assert _arrays(back) == _arrays(result)
    assert not list(Path(path).parent.glob(".*partial*"))
    return back


def test_every_registered_type_has_a_real_instance():
    assert set(FACTORIES) == set(RESULT_TYPES)
    for name in RESULT_TYPES:
        module, _, attr = name.rpartition(".")
        assert dataclasses.is_dataclass(getattr(importlib.import_module(module), attr)), name


@pytest.mark.parametrize("name", list(FACTORIES))
def test_every_result_type_reloads_equal(tmp_path, name):
    module, _, attr = name.rpartition(".")
    result = FACTORIES[name]()
    assert type(result) is getattr(importlib.import_module(module), attr)
    back = _assert_round_trip(result, tmp_path / "result.npz")
    if type(result).__eq__ is not object.__eq__ and all(dtype is None for _, _, dtype, _ in _arrays(result)):
        assert back == result  # the dataclass's own equality, where it has no arrays to trip on


def test_results_equal_can_fail():
    a = flows.balance(_W(complex=True))
    assert results_equal(a, a) and not results_equal(a, None)
    w = [x.copy() for x in a.weights]
    w[1][0, 0] = np.nextafter(w[1][0, 0].real, np.inf) + 1j * w[1][0, 0].imag
    assert not results_equal(a, dataclasses.replace(a, weights=tuple(w)))
    assert not results_equal(a, dataclasses.replace(a, mu_history=a.mu_history.astype(np.float32)))
    assert not results_equal(a, dataclasses.replace(a, mu_history=a.mu_history[None, :]))
    assert not results_equal(a, dataclasses.replace(a, message=a.message + " "))
    assert not results_equal(a, dataclasses.replace(a, x_drift=np.float64(a.x_drift)))  # float vs np.float64
    assert not results_equal(a, dataclasses.replace(a, weights=list(a.weights)))  # tuple vs list
    assert not results_equal(complex(1, math.nan), complex(2, math.nan))
    assert results_equal(complex(math.nan, 2), complex(math.nan, 2))
    nan = dataclasses.replace(a, x_drift=math.nan, mu_history=np.array([np.nan, 1.0]))
    assert results_equal(nan, dataclasses.replace(nan, mu_history=np.array([np.nan, 1.0])))


def test_special_values_reload_exactly(tmp_path):
    # complex weights keep complex128; a zero layer (X = 0) balances to W = 0
    complex_result = _assert_round_trip(flows.balance(_W(complex=True)), tmp_path / "c.npz")
    assert all(w.dtype == np.complex128 for w in complex_result.weights + complex_result.input_weights)
    zero = (np.zeros((2, 3)), _rng(0).normal(size=(4, 2)))
    back = _assert_round_trip(flows.balance(zero), tmp_path / "z.npz")
    assert np.array_equal(back.input_weights[0], zero[0]) and back.converged
    # NaN diagnostics, a complex NaN, and an infinite figure
    trunc = sy.balanced_truncation(_state_space(), order=1, measure_error=False)
    assert math.isnan(trunc.error) and np.isnan(trunc.error_point)
    back = _assert_round_trip(trunc, tmp_path / "t.npz")
    assert isinstance(back.error_point, complex) and math.isnan(back.error_point.real)
    real = sy.balanced_realization(_state_space(), verify=False)
    assert math.isnan(_assert_round_trip(real, tmp_path / "r.npz").gramian_residual)
    # empty: depth 1 has an empty Lie algebra (xi = (), no funnel layers); empty and NaN/inf arrays
    sol = _assert_round_trip(core.solve_gram((_rng(1).normal(size=(2, 3)),), ()), tmp_path / "g.npz")
    assert sol.xi == ()
    flow = flows.l2_flow(_W(), 0.1)
    odd = dataclasses.replace(flow, times=np.empty((0,)), mu_norm=np.array([np.inf, -np.inf, np.nan, -0.0]),
                              x_drift=np.empty((0, 3), dtype=np.complex64), trajectory=(np.array(["μ‖", "✓"]), ()))
    back = _assert_round_trip(odd, tmp_path / "f.npz")
    assert np.signbit(back.mu_norm[3]) and back.x_drift.dtype == np.complex64
    assert back.trajectory[0].tolist() == ["μ‖", "✓"] and back.trajectory[1] == ()


@pytest.fixture
def temporary_claims():
    before = dict(registry_module._REGISTRY)
    yield cl.register
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


def test_verify_report_with_unicode_and_infinite_figures(tmp_path, temporary_claims):
    @temporary_claims("results_io_test.ünïcode", "‖μ(W)‖ ≤ ε R(W) — balanced ✓", "3.1", "derived")
    def check(rng, size):
        x = float(rng.uniform())
        return cl.ClaimResult(measured=math.inf if x < 2 else x, expected=0.0, tolerance=1e-12,
                              detail="μ = ∞ (überlauf) 🙂")

    report = cl.verify(["results_io_test.*", "core.x_invariant"], seeds=2, progress=False)
    assert report.verdicts["results_io_test.ünïcode"] == "FAIL"
    back = _assert_round_trip(report, tmp_path / "report.npz")
    mine = [c.claim.id for c in back.claims].index("results_io_test.ünïcode")
    assert back.claims[mine].claim.check is check  # the registered check, found by the claim's id
    assert back.to_json() == report.to_json() and back.to_markdown() == report.to_markdown()
    assert back.exit_code == report.exit_code == 1

    # the JSON report `dln-git verify --report r.json` writes reads back == as well (no arrays inside)
    from_json = load_result(report.write(tmp_path / "report.json"))
    assert from_json == report and from_json.to_json() == report.to_json()
    assert from_json.claims[mine].claim.check is check
    assert math.isinf(from_json.claims[mine].instances[0].result.measured)

    # in a process where the claim is not registered: a placeholder check, the report still renders
    del registry_module._REGISTRY["results_io_test.ünïcode"]
    orphan_json = load_result(tmp_path / "report.json")
    assert orphan_json != report and orphan_json.to_markdown().count("ünïcode") == report.to_markdown().count("ünïcode")
    orphan = load_result(tmp_path / "report.npz")
    assert not results_equal(orphan, report)  # the check differs, everything else is equal
    assert orphan.to_json() == report.to_json() and orphan.command() == report.command()
    with pytest.raises(RuntimeError, match=r"ünïcode.*not saved.*\(import .*test_results_io first\)"):
        orphan.claims[mine].claim.check(np.random.default_rng(0), "small")
    assert orphan.claims[1 - mine].claim.check is cl.get_claim("core.x_invariant").check


def _rewrite(path, edit):
    """Rewrite a result file's metadata with ``edit(meta)``; arrays unchanged."""
    with np.load(path, allow_pickle=False) as data:
        entries = {k: np.array(data[k]) for k in data.files}
    meta = json.loads(entries["__result__"].tobytes().decode("utf-8"))
    edit(meta)
    entries["__result__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **entries)


def test_file_written_before_a_field_existed_loads_with_its_default(tmp_path):
    flow = flows.l2_flow(_W(), 0.5, record="weights", t_eval=[0.0, 0.5])
    assert flow.reached_t_final and flow.trajectory is not None
    path = save_result(tmp_path / "old.npz", flow)
    _rewrite(path, lambda m: [m["value"]["fields"].pop(k) for k in ("reached_t_final", "trajectory")])
    old = load_result(path)
    assert old.reached_t_final is False and old.trajectory is None
    assert results_equal(old, dataclasses.replace(flow, reached_t_final=False, trajectory=None))

    report = cl.verify(["core.x_invariant"], progress=False)  # a default_factory field (versions)
    path = save_result(tmp_path / "report.npz", report)
    _rewrite(path, lambda m: m["value"]["fields"].pop("versions"))
    assert load_result(path).versions == {}

    path = save_result(tmp_path / "nodefault.npz", flow)
    _rewrite(path, lambda m: m["value"]["fields"].pop("message"))
    with pytest.raises(ValueError, match=r"field 'message' of dln_git\.flows\.FlowResult is missing"):
        load_result(path)
    path = save_result(tmp_path / "newer.npz", flow)
    _rewrite(path, lambda m: m["value"]["fields"].update(from_the_future=1))
    with pytest.raises(ValueError, match="from_the_future"):
        load_result(path)


@dataclasses.dataclass(frozen=True)
class _Unregistered:
    x: int


def test_refusals_name_the_field_or_the_file(tmp_path):
    result = flows.balance(_W())
    with pytest.raises(TypeError, match=r"result\.message is a callable"):
        save_result(tmp_path / "a.npz", dataclasses.replace(result, message=lambda: "hi"))
    with pytest.raises(TypeError, match=r"result\.mu_history is an array of Python objects"):
        save_result(tmp_path / "a.npz", dataclasses.replace(result, mu_history=np.array([1, "x"], dtype=object)))
    with pytest.raises(TypeError, match=r"result\.input_weights\[1\] is a builtins\.set"):
        save_result(tmp_path / "a.npz", dataclasses.replace(result, input_weights=(1, {2})))
    with pytest.raises(TypeError, match=r"result\._regime is a .*_Unregistered, which is not a registered result"):
        save_result(tmp_path / "a.npz", dataclasses.replace(result, _regime=_Unregistered(1)))
    with pytest.raises(TypeError, match=r"result is a .*_Unregistered, which is not a registered result"):
        save_result(tmp_path / "a.npz", _Unregistered(1))
    with pytest.raises(TypeError, match="dln-git result object"):
        save_result(tmp_path / "a.npz", {"weights": result.weights})
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        save_result(tmp_path / "a.json", result)
    assert not list(tmp_path.iterdir())

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_result(tmp_path / "missing.npz")
    (tmp_path / "other.json").write_text('{"tool": "something else"}')
    with pytest.raises(ValueError, match="not a dln-git verify report"):
        load_result(tmp_path / "other.json")
    (tmp_path / "cut.json").write_text('{"tool": "dln-git verify", "claims": []}')
    with pytest.raises(ValueError, match="lacks or garbles the entry 'settings'"):
        load_result(tmp_path / "cut.json")
    weights = io.save_weights(tmp_path / "w.npz", result.weights)
    with pytest.raises(ValueError, match="not a dln-git result file"):
        load_result(weights)

    path = save_result(tmp_path / "r.npz", result)
    _rewrite(path, lambda m: m.update(version=99))
    with pytest.raises(ValueError, match="format version 99"):
        load_result(path)
    path = save_result(tmp_path / "r.npz", result)
    _rewrite(path, lambda m: m["value"].update(dataclass="results_io_evil_module.Payload"))
    with pytest.raises(ValueError, match="not a registered result type"):
        load_result(path)
    assert "results_io_evil_module" not in sys.modules
    path = save_result(tmp_path / "r.npz", result)
    _rewrite(path, lambda m: m["value"]["fields"].update(mu_history={"array": "__result__"}))
    with pytest.raises(ValueError, match=r"result\.mu_history: refers to a missing array"):
        load_result(path)


_dtypes = st.sampled_from([np.float64, np.float32, np.complex128, np.complex64, np.int64, np.bool_])


@given(arrays=st.lists(hnp.arrays(_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)),
                       min_size=0, max_size=4),
       scalar=st.floats(allow_nan=True, allow_infinity=True) | st.complex_numbers(allow_nan=True))
def test_any_arrays_and_scalars_round_trip_bit_for_bit(arrays, scalar):
    base = _BASE_FLOW
    odd = dataclasses.replace(base, trajectory=tuple(arrays), mu_norm=arrays[0] if arrays else base.mu_norm,
                              message=str(scalar), steps=scalar)
    with tempfile.TemporaryDirectory() as tmp:
        back = _assert_round_trip(odd, Path(tmp) / "f.npz")
    for a, b in zip(back.trajectory, arrays, strict=True):
        assert a.tobytes() == b.tobytes()  # NaN payloads and signed zeros too


_BASE_FLOW = flows.l2_flow(_W(), 0.1)


def test_balance_cli_saves_the_result(tmp_path, capsys):
    from dln_git import cli

    W = dg.gauge_act([np.diag([4.0, 0.3])], _W(7))
    src = io.save_weights(tmp_path / "in.npz", W)
    out, saved = tmp_path / "out.npz", tmp_path / "result.npz"
    assert cli.main(["balance", str(src), "-o", str(out), "--save-result", str(saved)]) == 0
    result = load_result(saved)
    assert isinstance(result, flows.BalanceResult) and result.converged
    assert all(np.array_equal(a, b) for a, b in zip(result.weights, io.load_weights(out), strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(result.input_weights, W, strict=True))
    assert results_equal(result, flows.balance(W))  # the same run, repeated in this process
    capsys.readouterr()
    code = cli.main(["balance", str(src), "-o", str(tmp_path / "o2.npz"), "--method", "moment", "--max-iter", "2",
                     "--save-result", str(tmp_path / "r2.npz")])
    assert code == 1 and not load_result(tmp_path / "r2.npz").converged
    bad = ["balance", str(src), "-o", str(tmp_path / "o3.npz"), "--save-result", str(tmp_path / "r.json")]
    assert cli.main(bad) == 2
    assert "--save-result" in capsys.readouterr().err and not (tmp_path / "o3.npz").exists()
