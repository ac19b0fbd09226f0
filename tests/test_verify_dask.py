"""The dask route for sweeps that outgrow one machine: `verify` on a dask.distributed LocalCluster
(through the executor interface, nothing dask-specific in the package) gives the serial verdicts,
instance by instance, with the same measured figures (the checks are seeded)."""

from __future__ import annotations

from distributed import Client, LocalCluster

from dln_git.claims import verify

PATTERNS = ["symmetries.relu.*", "symmetries.lr.*", "core.moment_map_*"]


def _measured(report):
    return {(c.claim.id, r.seed): (r.verdict, None if r.result is None else r.result.measured)
            for c in report.claims for r in c.instances}


def test_verify_on_a_local_cluster_matches_the_serial_run():
    serial = verify(PATTERNS, seeds=2, jobs=1, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = verify(PATTERNS, seeds=2, executor=client.get_executor(), progress=False)
    assert len(serial.claims) >= 10 and serial.verdicts == remote.verdicts
    assert _measured(serial) == _measured(remote)
    assert "Executor" in remote.execution
