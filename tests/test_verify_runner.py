"""The runner behind ``dln-git verify``: selection, seeds, aggregation, reports, executors, CLI.

Real claims used here are the fast ``core`` ones (milliseconds per instance); the deliberately
broken claims live in ``broken_claim_fixture.py`` and are removed from the registry after each test.
"""

import concurrent.futures as cf
import importlib
import json
import math
import re
import sys
import threading

import pytest

from dln_git import cli
from dln_git.claims import (
    SIZES,
    ClaimResult,
    UnknownClaimError,
    all_claims,
    get_claim,
    register,
    report_format,
    run_claim,
    select_claims,
    verify,
    write_report,
)
from dln_git.claims import registry as registry_module

FAST = ("core.noether", "core.equivariance", "core.gauge_in_fiber", "core.moment_map_adjoint")


@pytest.fixture
def fixture_claims():
    """Register the claims of ``broken_claim_fixture`` (by importing it) and remove them afterwards."""
    all_claims()  # built-in claims first, so the snapshot has them
    before = dict(registry_module._REGISTRY)
    if "broken_claim_fixture" in sys.modules:
        module = importlib.reload(sys.modules["broken_claim_fixture"])
    else:
        module = importlib.import_module("broken_claim_fixture")
    yield module
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


@pytest.fixture
def temporary_claims():
    all_claims()
    before = dict(registry_module._REGISTRY)
    yield register
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


def _instances(report):
    return [(r.claim_id, r.index, r.seed, r.verdict) for c in report.claims for r in c.instances]


# -- selection -------------------------------------------------------------------------------


def test_glob_selection_in_registration_order():
    ids = [c.id for c in all_claims()]
    assert [c.id for c in select_claims("core.noether")] == ["core.noether"]
    flows = [c.id for c in select_claims(["flows.*"])]
    assert flows == [i for i in ids if i.startswith("flows.")] and flows
    rates = {c.id for c in select_claims(["*rate*"])}
    assert {"flows.l2_rate", "flows.moment_rate", "flows.closure_rates"} <= rates
    both = [c.id for c in select_claims(["core.noether", "core.*", "core.x_invariant"])]
    assert both == [i for i in ids if i.startswith("core.")]  # deduplicated, registration order
    assert [c.id for c in select_claims(None)] == ids


def test_pattern_matching_nothing_names_the_known_ids():
    with pytest.raises(UnknownClaimError, match=r"unknown claim 'core\.nope'; known claims: .*core\.noether"):
        select_claims(["core.noether", "core.nope"])
    with pytest.raises(UnknownClaimError, match=r"pattern 'nothing\.\*' matches no claim"):
        verify(["nothing.*"])
    with pytest.raises(ValueError, match="empty"):
        select_claims([])


# -- instances and seeds ----------------------------------------------------------------------


def test_instance_zero_is_todays_run_and_instance_k_is_seed_plus_k():
    report = verify(["core.equivariance", "core.noether"], seeds=3)
    for summary in report.claims:
        first = summary.instances[0]
        assert (first.index, first.seed) == (0, 0)
        assert first.result.measured == run_claim(summary.claim, seed=0).result.measured
    shifted = verify(["core.equivariance"], seed=2)
    assert shifted.claims[0].instances[0].result.measured == report.claims[0].instances[2].result.measured
    measured = [r.result.measured for r in report.claims[0].instances]
    assert len(set(measured)) == 3  # three different random instances


def test_seeds_aggregate_into_verdict_worst_and_counts(fixture_claims):
    report = verify(["fixture.*"], seeds=12, seed=5)
    by_id = {c.claim.id: c for c in report.claims}
    assert list(by_id) == list(fixture_claims.IDS)

    flaky = by_id["fixture.seed_dependent"]
    draws = [r.result.measured for r in flaky.instances]
    assert [r.seed for r in flaky.instances] == list(range(5, 17))
    assert flaky.passes == sum(d <= fixture_claims.THRESHOLD for d in draws)
    assert 0 < flaky.passes < 12  # 12 uniform draws: both outcomes occur for these seeds
    assert flaky.verdict == "FAIL" and flaky.failures == 12 - flaky.passes
    assert flaky.worst.result.measured == max(draws)

    assert by_id["fixture.broken"].verdict == "FAIL" and by_id["fixture.broken"].passes == 0
    raised = by_id["fixture.raises"]
    assert raised.verdict == "ERROR" and raised.errors == 12 and raised.worst is None
    assert "RuntimeError: deliberate failure" in raised.instances[0].error
    assert by_id["fixture.ok"].verdict == "PASS" and by_id["fixture.ok"].passes == 12
    assert (report.passed, report.failed, report.errors, report.exit_code) == (2, 2, 1, 1)
    assert report.summary_line() == "2 passed, 3 failed (1 raised an exception)"


def test_worst_instance_prefers_failures_then_largest_ratio(temporary_claims):
    @temporary_claims("test.explicit", "fails by an explicit condition", section="0", tag="derived")
    def _explicit(rng, size):
        x = float(rng.uniform())
        return ClaimResult(0.0, 0.0, 1.0, passed=x < 0.9, detail=f"x = {x}")

    summary = verify("test.explicit", seeds=20).claims[0]
    failing = [r for r in summary.instances if not r.passed]
    assert failing and summary.worst in failing  # a failing instance even though every ratio is 0


def test_size_large_runs_the_medium_branch_of_checks_without_one(fixture_claims):
    assert SIZES == ("small", "medium", "large")
    report = verify(["fixture.ok", "fixture.sized", "core.noether"], size="large")
    ran = {c.claim.id: c.check_sizes for c in report.claims}
    assert ran == {"fixture.ok": ("medium",), "fixture.sized": ("large",), "core.noether": ("medium",)}
    assert report.ok
    assert "Checks without a large branch ran their medium branch: `core.noether`, `fixture.ok`." in (
        report.to_markdown()
    )


# -- reports ----------------------------------------------------------------------------------


def test_markdown_report_is_a_referees_table(fixture_claims, tmp_path):
    report = verify(["core.noether", "fixture.broken", "fixture.raises", "fixture.ok"], seeds=2, seed=3)
    path = write_report(report, tmp_path / "verify.md")
    text = path.read_text()
    assert text.startswith("# dln-git verify: 2 of 4 claims do not pass")
    for needle in (
        "| Claim | Statement | § | Tag | Instances passed | Worst measured | Expected | Tolerance | Verdict",
        "| `core.noether` |",
        "| `fixture.broken` | deliberately wrong: 1 = 2 | 0 | derived | 0/2 | 1 | 2 | 1.000e-12 | **FAIL** |",
        "| **ERROR** |",
        "2 per claim (seeds 3 to 4); size small",
        "### FAIL `fixture.broken`",
        "### ERROR `fixture.raises`",
        "Traceback (most recent call last)",
        "RuntimeError: deliberate failure in a test fixture (size small)",
        "reproduce: `dln-git verify --import broken_claim_fixture --claim fixture.raises --seed 4 --size small`",
        "numpy ",
        "scipy ",
        "python ",
        "- **Date**: ",
        "- **Command**: `dln-git verify --import broken_claim_fixture --claim core.noether fixture.broken "
        "fixture.raises fixture.ok --seed 3 --seeds 2 --size small`",
    ):
        assert needle in text, needle
    statement_cells = [line.split(" | ")[1] for line in text.splitlines() if line.startswith("| `core.noether`")]
    assert statement_cells == [get_claim("core.noether").statement.replace("*", "\\*")]


def test_json_report_has_every_instance(fixture_claims, temporary_claims, tmp_path):
    @temporary_claims("test.nan", "measures NaN", section="0", tag="derived")
    def _nan(rng, size):
        return ClaimResult(math.nan, 0.0, 1.0)

    report = verify(["fixture.*", "test.nan"], seeds=3)
    data = json.loads(write_report(report, tmp_path / "verify.json").read_text())  # strict JSON: no NaN literal
    assert data["summary"] == {"claims": 6, "passed": 2, "failed": 3, "errors": 1, "exit_code": 1}
    assert data["settings"]["seeds"] == 3 and data["settings"]["size"] == "small"
    assert {"python", "numpy", "scipy", "dln-git"} <= set(data["versions"])
    claims = {c["id"]: c for c in data["claims"]}
    assert all(len(c["runs"]) == 3 for c in claims.values())
    assert [r["seed"] for r in claims["fixture.ok"]["runs"]] == [0, 1, 2]
    assert "RuntimeError: deliberate failure" in claims["fixture.raises"]["runs"][2]["error"]
    nan_run = claims["test.nan"]["runs"][0]
    assert (nan_run["measured"], nan_run["ratio"], nan_run["verdict"]) == ("nan", "inf", "FAIL")


def test_report_suffix_chooses_the_format():
    assert report_format("a/b.md") == "markdown" and report_format("B.JSON") == "json"
    with pytest.raises(ValueError, match=r"must end in \.md, \.markdown, \.json"):
        report_format("report.txt")


# -- executors --------------------------------------------------------------------------------


def test_jobs_2_gives_the_same_verdicts_as_jobs_1(fixture_claims):
    patterns = [*FAST, "fixture.*"]
    serial = verify(patterns, seeds=3, jobs=1)
    parallel = verify(patterns, seeds=3, jobs=2)
    assert "process pool of 2 workers" in parallel.execution
    assert parallel.verdicts == serial.verdicts
    assert _instances(parallel) == _instances(serial)
    for a, b in zip(serial.claims, parallel.claims, strict=True):
        for ra, rb in zip(a.instances, b.instances, strict=True):
            if ra.result is not None:
                tol = ra.result.tolerance
                assert math.isclose(ra.result.measured, rb.result.measured, rel_tol=1e-6, abs_tol=1e-3 * tol)


def test_spawned_workers_import_the_module_of_a_claim(fixture_claims, temporary_claims):
    @temporary_claims("test.closure", "registered inside a test function", section="0", tag="derived")
    def _closure(rng, size):
        return ClaimResult(0.0, 0.0, 0.0)

    report = verify(["fixture.ok", "fixture.broken", "test.closure"], jobs=2, start_method="spawn")
    assert report.verdicts == {"fixture.ok": "PASS", "fixture.broken": "FAIL", "test.closure": "ERROR"}
    error = report.claims[2].instances[0].error
    assert "'test.closure' is not registered in process" in error and "importable module" in error
    forked = verify(["test.closure"], jobs=2)  # forked workers inherit run-time registrations
    assert forked.verdicts == {"test.closure": "PASS"}


def test_a_given_executor_is_used_and_left_open(fixture_claims):
    class CountingExecutor(cf.ThreadPoolExecutor):
        def __init__(self):
            super().__init__(max_workers=2, thread_name_prefix="injected")
            self.submitted = 0
            self.threads = set()

        def submit(self, fn, /, *args, **kwargs):
            self.submitted += 1

            def run():
                self.threads.add(threading.current_thread().name)
                return fn(*args, **kwargs)

            return super().submit(run)

    with CountingExecutor() as executor:
        report = verify([*FAST, "fixture.*"], seeds=2, executor=executor)
        assert executor.submitted == 2 * (len(FAST) + 5)
        assert executor.threads and all(name.startswith("injected") for name in executor.threads)
        assert "CountingExecutor" in report.execution
        assert report.verdicts == verify([*FAST, "fixture.*"], seeds=2).verdicts
        assert executor.submit(lambda: 42).result() == 42  # not shut down by verify
    with pytest.raises(ValueError, match="either executor or jobs"):
        verify(FAST, executor=executor, jobs=2)


def test_claims_are_handed_over_in_order_as_they_complete(fixture_claims):
    seen = []
    report = verify([*FAST, "fixture.*"], seeds=2, jobs=2, on_claim=lambda s: seen.append(s.claim.id))
    assert seen == [c.claim.id for c in report.claims] == [c.id for c in select_claims([*FAST, "fixture.*"])]
    assert seen[-5:] == list(fixture_claims.IDS)


def test_progress_bar_on_stderr_only_when_asked(capsys):
    verify(["core.noether"], progress=True)
    assert "dln-git verify" in capsys.readouterr().err
    verify(["core.noether"], progress=False)
    verify(["core.noether"])  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"seeds": 0}, ValueError),
        ({"seed": -1}, ValueError),
        ({"jobs": -1}, ValueError),
        ({"seeds": 1.5}, TypeError),
        ({"size": "huge"}, ValueError),
        ({"start_method": "teleport"}, ValueError),
        ({"executor": object()}, TypeError),
    ],
)
def test_invalid_settings_are_rejected(kwargs, error):
    with pytest.raises(error):
        verify(["core.noether"], **kwargs)


# -- command line -----------------------------------------------------------------------------


def test_cli_broken_claim_exits_non_zero_and_reports_the_traceback(fixture_claims, tmp_path, capsys):
    report = tmp_path / "report.md"
    code = cli.main(
        ["verify", "--claim", "fixture.*", "core.noether", "--seeds", "2", "--jobs", "2", "--report", str(report)]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL  fixture.broken" in out and "ERROR fixture.raises" in out and "PASS  core.noether" in out
    assert "RuntimeError: deliberate failure" in out
    assert re.search(r"^[23] passed, [34] failed \(1 raised an exception\)", out, re.MULTILINE)
    rerun = "dln-git verify --import broken_claim_fixture --claim fixture.broken --seed 0 --size small"
    assert f"reproduce with `{rerun}`" in out
    text = report.read_text()
    assert "### ERROR `fixture.raises`" in text and "Traceback (most recent call last)" in text


def test_cli_exit_codes(fixture_claims, tmp_path, capsys):
    assert cli.main(["verify", "--claim", "core.noether", "fixture.ok", "--seeds", "2"]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    assert cli.main(["verify", "--claim", "fixture.broken"]) == 1
    assert cli.main(["verify", "--claim", "nothing.*"]) == 2
    assert "pattern 'nothing.*' matches no claim" in capsys.readouterr().err
    assert cli.main(["verify", "--claim", "core.noether", "--report", str(tmp_path / "r.txt")]) == 2
    assert "must end in .md" in capsys.readouterr().err
    assert cli.main(["verify", "--claim", "core.noether", "--report", str(tmp_path / "no" / "r.md")]) == 2
    for bad in (["--seeds", "0"], ["--size", "huge"], ["--jobs", "-2"], ["--seed", "x"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["verify", "--claim", "core.noether", *bad])
        assert exc.value.code == 2


def test_cli_list_with_globs_and_json_report(fixture_claims, tmp_path, capsys):
    assert cli.main(["verify", "--list", "--claim", "fixture.*"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(fixture_claims.IDS)
    assert cli.main(["verify", "--claim", "core.noether", "--size", "large", "--report", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "ran its medium branch (the check has no large branch)" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["claims"][0]["runs"][0]["check_size"] == "medium"


def test_blas_threads_are_capped_during_a_serial_run_and_restored(temporary_claims):
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []

    @temporary_claims("test.blas", "records the BLAS threads", section="0", tag="derived")
    def _blas(rng, size):
        seen.append(blas_threads())
        return ClaimResult(0.0, 0.0, 0.0)

    with threadpool_limits(limits=2, user_api="blas"):  # the test session itself runs BLAS on 1 thread
        before = blas_threads()
        if not before:
            pytest.skip("no BLAS library visible to threadpoolctl")
        assert verify("test.blas").ok and seen == [[1] * len(before)]
        assert blas_threads() == before
        verify("test.blas", threads_per_job=0)
        assert seen[-1] == before


def test_pool_workers_keep_their_blas_cap():
    # The worker initializer entered a BLAS cap whose context manager was garbage-collected at
    # once, restoring the default: workers ran with every core's worth of BLAS threads.
    import gc

    from threadpoolctl import threadpool_limits

    from dln_git.claims.workers import blas_threads_in_use, default_start_method, process_pool

    with threadpool_limits(limits=2), process_pool(1, default_start_method(), 1) as pool:
        pool.submit(gc.collect).result()
        assert pool.submit(blas_threads_in_use).result() == 1
