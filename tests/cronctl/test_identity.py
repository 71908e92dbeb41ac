"""Who cronctl is to the API server: every request's User-Agent is `cronctl/<version>` and every
write names `fieldManager=cronctl`, so managedFields and audit logs name it (not the official
client's "OpenAPI-Generator"); the dashboard (`cronctl serve`) is `cronctl-serve`."""

from __future__ import annotations

import json
import urllib.request

from cronjobs import __version__
from tests.cronctl.conftest import Cluster
from tests.web.serving import cronctl_serve

NAME = "web-cronjobs-health-check"


def suspend_owners(cluster: Cluster) -> set[tuple[str, str]]:
    return {
        (e["manager"], e["operation"])
        for e in cluster.cronjob(NAME)["metadata"]["managedFields"]
        if "f:suspend" in e["fieldsV1"].get("f:spec", {})
    }


def test_every_request_names_cronctl(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, policy="Allow")
    seen = len(cluster.emulator.clients)
    for args in (
        ("list",),
        ("suspend", NAME, "--reason", "maintenance"),
        ("resume", NAME, "--catch-up", "none"),
        ("trigger", NAME),
        ("explain", NAME),
    ):
        result = cluster.run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    requests = cluster.emulator.clients[seen:]
    # The official client's own name would otherwise show (the emulator derives it as the API
    # server does); cronctl's patch made the field its own.
    assert suspend_owners(cluster) == {("cronctl", "Update")}
    assert {agent for _, _, agent, _ in requests} == {f"cronctl/{__version__}"}
    writes = [(method, manager) for method, _, _, manager in requests if method != "GET"]
    assert {"POST", "PATCH"} <= {method for method, _ in writes}
    assert {manager for _, manager in writes} == {"cronctl"}


def test_the_dashboard_names_itself(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    seen = len(cluster.emulator.clients)
    with cronctl_serve(cluster.kubeconfig, "--trust-user-header", "X-User") as url:
        with urllib.request.urlopen(f"{url}/cronjobs/api/session", timeout=10) as r:
            token, cookie = json.loads(r.read())["csrf_token"], r.headers["Set-Cookie"]
        req = urllib.request.Request(
            f"{url}/cronjobs/api/cronjobs/{NAME}/suspend",
            data=b"{}",
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-CSRF-Token": token,
                "Cookie": cookie.split(";")[0],
                "X-User": "bob",
            },
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200

    agents = {agent for _, _, agent, _ in cluster.emulator.clients[seen:]}
    assert agents == {f"cronctl-serve/{__version__}"}
    assert suspend_owners(cluster) == {("cronctl-serve", "Update")}
