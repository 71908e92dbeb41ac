"""The emulator's optimistic concurrency, which the Forbid claim of `cronctl trigger` relies on.

The API server checks a merge patch's `metadata.resourceVersion` and writes in one step (etcd's
compare-and-swap): of two patches naming the same version, one applies and the other gets 409
Conflict, however they interleave. (cronctl never replaces an object with PUT, so the emulator
does not emulate PUT.)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"


def _patch(url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_a_stale_resource_version_is_409_even_when_patches_interleave(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME)
    version = cj["metadata"]["resourceVersion"]
    url = f"{cluster.server.url}/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/{NAME}"
    emulator, loop = cluster.emulator, cluster.server._loop
    # Hold kmock's own lock, so that both patches arrive before either is written.
    asyncio.run_coroutine_threadsafe(emulator._lock.acquire(), loop).result(10)
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda who=who: codes.append(
                _patch(
                    url,
                    {"metadata": {"resourceVersion": version, "annotations": {"by": who}}},
                )
            )
        )
        for who in ("first", "second")
    ]
    before = len(emulator.calls)
    for thread in threads:
        thread.start()
    while sum(m == "PATCH" for m, _ in emulator.calls[before:]) < 2:
        time.sleep(0.01)
    loop.call_soon_threadsafe(emulator._lock.release)
    for thread in threads:
        thread.join(10)

    assert sorted(codes) == [200, 409]
    stored = cluster.cronjob(NAME)
    assert stored["metadata"]["resourceVersion"] != version
    assert stored["metadata"]["annotations"]["by"] in ("first", "second")


def test_a_current_resource_version_applies_and_a_stale_one_is_409(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME)
    url = f"{cluster.server.url}/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/{NAME}"
    version = cj["metadata"]["resourceVersion"]
    assert _patch(url, {"metadata": {"resourceVersion": version, "labels": {"a": "1"}}}) == 200
    assert _patch(url, {"metadata": {"resourceVersion": version, "labels": {"a": "2"}}}) == 409
    assert cluster.cronjob(NAME)["metadata"]["labels"]["a"] == "1"
