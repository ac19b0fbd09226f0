"""The claim registry and the ``dln-git verify`` command."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from dln_git import cli
from dln_git.claims import SIZES, ClaimResult, all_claims, get_claim, register, run_claim, run_claims, verify
from dln_git.claims import registry as registry_module

SECTION_1_2_CLAIMS = {
    "core.x_invariant",
    "core.moment_map_derivative",
    "core.moment_map_adjoint",
    "core.equivariance",
    "core.noether",
    "core.kempf_ness_convexity",
    "core.svd_chart_minimum",
    "core.funnel_rule",
    "core.stabiliser_rule",
    "core.closed_orbit_rule",
    "core.gauge_in_fiber",
}


@pytest.fixture
def temporary_claims():
    """Register test-only claims and remove them afterwards."""
    before = dict(registry_module._REGISTRY)
    yield register
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(before)


def test_core_claims_registered_with_metadata():
    claims = {c.id: c for c in all_claims()}
    assert SECTION_1_2_CLAIMS <= set(claims)
    for c in claims.values():
        assert c.tag in {"paper", "known", "derived"}
        assert c.statement and c.section


@pytest.mark.parametrize("seed", [0, 1])
def test_all_core_claims_pass(seed):
    runs = run_claims(sorted(SECTION_1_2_CLAIMS), seed=seed, size="small")
    failed = [(r.claim.id, r.result, r.error) for r in runs if not r.passed]
    assert not failed


def test_every_registered_claim_passes_the_default_run():
    """What `dln-git verify` runs by default: every claim, seed 0, small size, serially."""
    report = verify()
    ran = {c.claim.id for c in report.claims}
    assert ran == {c.id for c in all_claims()}
    symbolic = {"symbolic.moment_map_matches", "symbolic.identities", "symbolic.conservation_laws"}
    assert ran >= SECTION_1_2_CLAIMS | symbolic
    failed = [(c.claim.id, c.worst, [r.error for r in c.instances]) for c in report.claims if not c.passed]
    assert not failed
    assert report.exit_code == 0


def test_claim_results_are_computed_not_constant():
    """A claim's figures depend on the random instances: two seeds give different measurements."""
    claim = get_claim("core.moment_map_derivative")
    a = run_claim(claim, seed=0).result.measured
    b = run_claim(claim, seed=5).result.measured
    assert a != b


def test_claim_result_passed_from_figures():
    assert ClaimResult(1.0, 1.0 + 1e-9, 1e-8).passed
    assert not ClaimResult(1.0, 1.1, 1e-8).passed
    assert not ClaimResult(0.0, 0.0, 1.0, passed=False).passed


def test_broken_claim_fails_and_errors_are_reported(temporary_claims, capsys):
    @temporary_claims("test.broken", "deliberately wrong: 1 = 2", section="0", tag="derived")
    def _broken(rng, size):
        return ClaimResult(1.0, 2.0, 1e-12)

    @temporary_claims("test.raises", "raises", section="0", tag="derived")
    def _raises(rng, size):
        raise RuntimeError("boom")

    @temporary_claims("test.ok", "passes", section="0", tag="derived")
    def _ok(rng, size):
        x = rng.standard_normal()
        return ClaimResult(x, x, 0.0)

    assert cli.main(["verify", "--claim", "test.ok"]) == 0
    assert cli.main(["verify", "--claim", "test.broken", "test.ok"]) == 1
    assert cli.main(["verify", "--claim", "test.raises", "test.ok"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  test.broken" in out
    assert "ERROR test.raises" in out and "RuntimeError: boom" in out
    assert "PASS  test.ok" in out  # the run goes on after an error


def test_unknown_claim_is_a_clear_error(capsys):
    assert cli.main(["verify", "--claim", "core.nope"]) == 2
    assert "unknown claim 'core.nope'" in capsys.readouterr().err


def test_duplicate_registration_rejected(temporary_claims):
    with pytest.raises(ValueError, match="registered twice"):
        temporary_claims("core.noether", "dup", section="4", tag="known")(lambda rng, size: None)


def test_check_sizes_and_the_size_a_check_runs(temporary_claims):
    assert SIZES == ("small", "medium", "large")
    claim = get_claim("core.noether")
    assert claim.sizes == ("small", "medium")
    assert [claim.size_for(s) for s in SIZES] == ["small", "medium", "medium"]
    seen = []

    @temporary_claims("test.medium_only", "knows medium only", section="0", tag="derived", sizes=["medium"])
    def _medium_only(rng, size):
        seen.append(size)
        return ClaimResult(0.0, 0.0, 0.0)

    only = get_claim("test.medium_only")
    assert [only.size_for(s) for s in SIZES] == ["medium", "medium", "medium"]
    assert run_claim(only, size="large").passed and seen == ["medium"]
    with pytest.raises(ValueError, match="size must be one of"):
        claim.size_for("huge")
    with pytest.raises(ValueError, match="sizes must be a non-empty subset"):
        temporary_claims("test.bad_sizes", "bad", section="0", tag="derived", sizes=("tiny",))


def test_claim_rng_is_reproducible():
    a = registry_module.claim_rng("core.noether", 3).standard_normal(3)
    b = registry_module.claim_rng("core.noether", 3).standard_normal(3)
    c = registry_module.claim_rng("core.x_invariant", 3).standard_normal(3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _console_script():
    exe = shutil.which("dln-git")
    return [exe] if exe else [sys.executable, "-m", "dln_git"]


def test_console_script_help_and_verify():
    help_out = subprocess.run([*_console_script(), "--help"], capture_output=True, text=True, check=True)
    assert "verify" in help_out.stdout
    run = subprocess.run(
        [*_console_script(), "verify", "--claim", "core.noether", "core.x_invariant", "--seed", "2"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed, 0 failed" in run.stdout
    assert "measured" in run.stdout and "expected" in run.stdout
