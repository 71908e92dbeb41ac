"""A pod not yet on a node: the API server answers its log request 204 with an empty body (seen
on v1.28; the emulator does the same). `cronctl logs` says the pod has not started yet, without
an error (it used to fail on the emulator's former 404, and print nothing on a real server)."""

from __future__ import annotations

from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-health-check"


def test_logs_of_a_pod_not_yet_on_a_node(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME)
    cluster.add_job(cj, f"{NAME}-1", "Running")
    cluster.add_pod(f"{NAME}-1", f"{NAME}-1-abcde", "", phase="Pending", cronjob=cj)

    result = cluster.run("logs", NAME)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"Pod {NAME}-1-abcde has not started yet (no node yet): no log to show yet." in (
        result.stderr
    )
    assert "Error" not in result.stderr
