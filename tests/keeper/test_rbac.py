"""Every request the keeper makes is one the chart's keeper Role allows: the Role rendered by the
real helm, the requests counted by the API emulator while the keeper watches, records a run into
a ledger that exists, starts a requested run and lists by pass."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cronjobs.keeper.loop import REQUEST, Cache, Keeper
from tests.chart.chart_helpers import CHART, by_kind, granted, parse_docs, run_helm
from tests.cronctl.conftest import Cluster

NOW = datetime.now(UTC).replace(microsecond=0)
PATH = re.compile(r"^/(?:api|apis/(?P<group>[^/]+))/v1/namespaces/[^/]+/(?P<res>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$")  # fmt: skip
VERBS = {"POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}


def keeper_role(helm: Path) -> set[tuple[str, str, str]]:
    done = run_helm(helm, "template", "web", str(CHART), "--set", "keeper.enabled=true")
    assert done.returncode == 0, done.stderr
    [role] = [r for r in by_kind(parse_docs(done.stdout), "Role") if r["metadata"]["name"].endswith("-keeper")]  # fmt: skip
    return granted(role)


def needed(calls: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
    out = set()
    for method, url in calls:
        parts = urlsplit(url)
        m = PATH.match(parts.path)
        if m is None:
            continue  # self-reviews: allowed to every authenticated user
        resource = m["res"] + (f"/{m['sub']}" if m["sub"] else "")
        if method == "GET":
            query = parse_qs(parts.query)
            verb = "get" if m["name"] else "watch" if query.get("watch") else "list"
        else:
            verb = VERBS[method]
        out.add((m["group"] or "", resource, verb))
    return out


def test_the_keeper_makes_no_request_its_role_does_not_allow(
    cluster: Cluster, helm_bin: Path
) -> None:
    request = {"id": "r-1", "by": "ana"}
    cj = cluster.add_cronjob("web-cronjobs-r", policy="Allow", annotations={REQUEST: json.dumps(request)})  # fmt: skip
    cluster.add_job(cj, "web-cronjobs-r-1", started=NOW - timedelta(hours=2))
    keeper = Keeper(cluster.controller(), clock=lambda: NOW)
    start = len(cluster.emulator.calls)
    keeper.run_once()  # by listing: creates the ledger
    cluster.add_job(cj, "web-cronjobs-r-2", "Failed", started=NOW - timedelta(hours=1))
    cache = Cache.of(keeper, watch_seconds=1)
    for inf in cache.all():
        inf.step()  # list
        inf.step()  # watch
    keeper.run_once(cache)  # adds to the ledger that exists
    calls = cluster.emulator.calls[start:]
    used = needed(calls)
    assert {
        ("", "configmaps", "get"),
        ("batch", "jobs", "watch"),
        ("", "configmaps", "watch"),
    } <= used
    assert used - keeper_role(helm_bin) == set()
