"""The emulator's watch, as the API server serves it (kubernetes.io, API concepts: "Efficient
detection of changes", "Watch bookmarks"): the keeper's informer relies on each behaviour here.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-w"


def events(cluster: Cluster, query: str, resource: str = "cronjobs") -> list[dict[str, Any]]:
    """Every event of one watch request, read until the server ends it (its timeoutSeconds)."""
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/{resource}?watch=1&{query}"
    with urllib.request.urlopen(cluster.server.url + path, timeout=30) as response:
        assert response.status == 200
        return [json.loads(line) for line in response if line.strip()]


def list_version(cluster: Cluster, resource: str = "cronjobs") -> str:
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/{resource}"
    return str(cluster.server.call("GET", path)["metadata"]["resourceVersion"])


def patch(cluster: Cluster, name: str, body: dict[str, Any]) -> dict[str, Any]:
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/{name}"
    result: dict[str, Any] = cluster.server.call(
        "PATCH", path, body, "application/merge-patch+json"
    )
    return result


def test_a_watch_from_a_lists_version_streams_each_later_change_in_order(
    cluster: Cluster,
) -> None:
    cluster.add_cronjob("web-cronjobs-before")
    version = list_version(cluster)
    cj = cluster.add_cronjob(NAME)
    patched = patch(cluster, NAME, {"spec": {"suspend": True}})
    cluster.server.call("DELETE", f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/{NAME}")
    seen = events(cluster, f"resourceVersion={version}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
        ("ADDED", NAME),
        ("MODIFIED", NAME),
        ("DELETED", NAME),
    ]  # not the CronJob that existed at the list's version
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
    assert versions[0] == int(cj["metadata"]["resourceVersion"])
    assert versions[1] == int(patched["metadata"]["resourceVersion"])
    assert versions == sorted(versions) and len(set(versions)) == 3  # a deletion has its own
    assert seen[1]["object"]["spec"]["suspend"] is True


def test_a_watch_without_a_version_starts_with_the_current_objects(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    cluster.add_cronjob("web-cronjobs-other", labels={"app.kubernetes.io/instance": "other"})
    seen = events(cluster, "labelSelector=app.kubernetes.io/instance%3Dweb&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [("ADDED", NAME)]


def test_a_version_older_than_the_window_is_410_expired_in_the_stream(cluster: Cluster) -> None:
    version = list_version(cluster)
    cluster.add_cronjob(NAME)
    cluster.emulator.watch_log.compact()  # etcd compacted its history past `version`
    seen = events(cluster, f"resourceVersion={version}&timeoutSeconds=1")
    assert [e["type"] for e in seen] == ["ERROR"]
    status = seen[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert "too old resource version" in status["message"]
    # The remedy works: list again, watch from the new list's version.
    assert events(cluster, f"resourceVersion={list_version(cluster)}&timeoutSeconds=1") == []


def test_bookmarks_carry_a_version_to_resume_from(cluster: Cluster) -> None:
    emulator = cluster.emulator
    version = list_version(cluster)
    cluster.add_cronjob(NAME)
    before, emulator.bookmark_seconds = emulator.bookmark_seconds, 0.2
    try:
        seen = events(
            cluster, f"resourceVersion={version}&allowWatchBookmarks=true&timeoutSeconds=1"
        )
        no_bookmarks = events(cluster, f"resourceVersion={version}&timeoutSeconds=1")
    finally:
        emulator.bookmark_seconds = before
    marks = [e["object"] for e in seen if e["type"] == "BOOKMARK"]
    assert marks and [e["type"] for e in no_bookmarks] == ["ADDED"]
    assert set(marks[-1]) == {"kind", "apiVersion", "metadata"}
    assert marks[-1]["kind"] == "CronJob" and set(marks[-1]["metadata"]) == {"resourceVersion"}
    patch(cluster, NAME, {"spec": {"suspend": True}})
    resumed = events(cluster, f"resourceVersion={marks[-1]['metadata']['resourceVersion']}&timeoutSeconds=1")  # fmt: skip
    assert [e["type"] for e in resumed] == [
        "MODIFIED"
    ]  # the ADDED before the bookmark is not sent again


def test_an_object_that_leaves_the_selector_is_deleted_for_the_watch(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    version = list_version(cluster)
    patch(cluster, NAME, {"metadata": {"labels": {"app.kubernetes.io/instance": "other"}}})
    selector = "labelSelector=app.kubernetes.io/instance%3Dweb"
    seen = events(cluster, f"{selector}&resourceVersion={version}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [("DELETED", NAME)]


def test_changes_stream_as_they_happen_until_the_connection_drops(cluster: Cluster) -> None:
    version = list_version(cluster)
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs?watch=1&resourceVersion={version}"  # fmt: skip
    lines: list[dict[str, Any]] = []
    arrived, ended = threading.Event(), threading.Event()

    def read() -> None:
        with urllib.request.urlopen(cluster.server.url + path, timeout=30) as response:
            for line in response:
                lines.append(json.loads(line))
                arrived.set()
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    cluster.add_cronjob(NAME)
    assert arrived.wait(20) and lines[0]["type"] == "ADDED"
    assert not ended.is_set()  # still open: no timeoutSeconds
    cluster.server._loop.call_soon_threadsafe(cluster.emulator.watch_log.drop)
    assert ended.wait(20)
