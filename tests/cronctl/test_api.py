"""The choke point (jobs.cronctl.api): client-version independence, auth, in-cluster loading."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s_client

from tests.cronctl.conftest import Cluster


def test_requests_do_not_depend_on_the_clients_call_api_signature(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyproject allows kubernetes>=29: `ApiClient.param_serialize` exists only in 37, and
    `call_api` takes other arguments before it, so cronctl must use neither."""

    def absent(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("not in this kubernetes client version")

    monkeypatch.setattr(k8s_client.ApiClient, "param_serialize", absent, raising=False)
    monkeypatch.setattr(k8s_client.ApiClient, "call_api", absent)
    cj = cluster.add_cronjob("web-cronjobs-health-check")
    cluster.add_job(cj, "web-cronjobs-health-check-1")

    listed = cluster.run("list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert '"last_result": "Succeeded"' in listed.stdout
    suspended = cluster.run("suspend", "web-cronjobs-health-check")
    assert suspended.exit_code == 0, suspended.stderr
    assert cluster.cronjob("web-cronjobs-health-check")["spec"]["suspend"] is True
