"""The keeper's informer against the API emulator's watch (tests/cronctl/test_emulator_watch.py
shows the emulator's watch behaves as the API server's): list then watch from the list's
resourceVersion, watch again from the last version after a dropped connection, list again on
410 Gone and when the resync is due (injected clock); and the keeper's passes over it: no API
read in a steady pass, nothing done twice when the cache lags behind the keeper's own writes."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from cronjobs.cronctl.controller import CRONJOBS
from cronjobs.cronctl.errors import Forbidden
from cronjobs.keeper.informer import Informer
from cronjobs.keeper.loop import HANDLED, REQUEST, Cache, Keeper, request_job_name
from tests.cronctl.conftest import Cluster

NOW = datetime.now(UTC).replace(microsecond=0)
SELECTOR = "app.kubernetes.io/instance=web"


def informer(cluster: Cluster, clock: list[datetime] | None = None) -> Informer:
    when = clock or [NOW]
    api = cluster.controller().api
    return Informer(
        api, CRONJOBS, cluster.namespace, SELECTOR, clock=lambda: when[0], watch_seconds=1
    )


def names(inf: Informer) -> list[str]:
    return sorted(o["metadata"]["name"] for o in inf.items())


def patch(cluster: Cluster, name: str, body: dict[str, object]) -> None:
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/{name}"
    cluster.server.call("PATCH", path, body, "application/merge-patch+json")


def test_it_lists_then_follows_changes_from_the_lists_version(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-a")
    cluster.add_cronjob("web-cronjobs-x", labels={"app.kubernetes.io/instance": "other"})
    inf = informer(cluster)
    inf.step()
    assert names(inf) == ["web-cronjobs-a"] and inf.synced and inf.lists == 1
    cluster.add_cronjob("web-cronjobs-b")
    patch(cluster, "web-cronjobs-a", {"spec": {"suspend": True}})
    cluster.server.call(
        "DELETE", f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/web-cronjobs-b"
    )
    cluster.add_cronjob("web-cronjobs-c")
    inf.step()  # one watch, until the server ends it
    assert names(inf) == ["web-cronjobs-a", "web-cronjobs-c"]
    suspended = next(o for o in inf.items() if o["metadata"]["name"] == "web-cronjobs-a")
    assert suspended["spec"]["suspend"] is True
    assert (inf.lists, inf.watches) == (1, 1)


def test_a_410_gone_lists_again(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-a")
    inf = informer(cluster)
    inf.step()
    cluster.add_cronjob("web-cronjobs-b")
    cluster.emulator.watch_log.compact()  # the informer's version is compacted away
    inf.step()  # the watch answers 410: the version is dropped
    assert inf.version is None and inf.lists == 1
    inf.step()
    assert names(inf) == ["web-cronjobs-a", "web-cronjobs-b"] and inf.lists == 2


def test_the_resync_lists_again_when_due_by_the_clock(cluster: Cluster) -> None:
    clock = [NOW]
    inf = informer(cluster, clock)
    inf.step()
    inf.step()
    assert (inf.lists, inf.watches) == (1, 1)
    clock[0] = NOW + inf.resync
    inf.step()
    assert (inf.lists, inf.watches) == (2, 1)


def test_a_dropped_watch_resumes_from_the_last_version_without_listing(cluster: Cluster) -> None:
    inf = informer(cluster)
    inf.watch_seconds = 600
    stop = threading.Event()
    inf.start(stop)
    try:
        wait_for(lambda: inf.synced and inf.watches == 1)
        cluster.server._loop.call_soon_threadsafe(cluster.emulator.watch_log.drop)
        wait_for(lambda: inf.watches == 2)
        cluster.add_cronjob("web-cronjobs-after-the-drop")
        wait_for(lambda: names(inf) == ["web-cronjobs-after-the-drop"])
        assert inf.lists == 1
    finally:
        stop.set()
        cluster.server._loop.call_soon_threadsafe(cluster.emulator.watch_log.drop)


def wait_for(condition: object, seconds: float = 30) -> None:
    """Poll until `condition()` holds (a thread applies the watch's events); fail after
    `seconds`, which only a broken informer reaches."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the informer did not catch up"
        time.sleep(0.05)


def test_a_steady_pass_over_the_cache_reads_nothing_from_the_api(cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-a")
    cluster.add_job(cj, "web-cronjobs-a-1", started=NOW - timedelta(hours=1))
    keeper = Keeper(cluster.controller(), clock=lambda: NOW)
    cache = Cache.of(keeper, watch_seconds=1)
    for inf in cache.all():
        inf.step()
    assert [e.job for e in keeper.run_once(cache).recorded] == ["web-cronjobs-a-1"]
    for inf in cache.all():
        inf.step()  # the ledger's creation arrives
    before = len(cluster.emulator.calls)
    for _ in range(3):
        assert keeper.run_once(cache).recorded == []
    assert cluster.emulator.calls[before:] == []
    # The same three passes by listing: three lists each.
    for _ in range(3):
        keeper.run_once()
    assert len(cluster.emulator.calls) - before >= 9


def test_a_lagging_cache_records_nothing_twice_and_starts_no_run_twice(cluster: Cluster) -> None:
    request = {"id": "r-1", "by": "ana"}
    cj = cluster.add_cronjob(
        "web-cronjobs-d", policy="Allow", annotations={REQUEST: json.dumps(request)}
    )
    cluster.add_job(cj, "web-cronjobs-d-1", started=NOW - timedelta(hours=1))
    keeper = Keeper(cluster.controller(), clock=lambda: NOW)
    cache = Cache.of(keeper, watch_seconds=1)
    for inf in cache.all():
        inf.step()
    first = keeper.run_once(cache)
    # The cache has not seen the keeper's writes (no watch step): the next passes decide on
    # stale objects, and the API server's answers keep them from acting twice.
    second, third = keeper.run_once(cache), keeper.run_once(cache)
    assert [e.job for e in first.recorded] == ["web-cronjobs-d-1"]
    assert second.recorded == third.recorded == []
    started = [j["metadata"]["name"] for j in cluster.jobs() if "-req-" in j["metadata"]["name"]]
    assert started == [request_job_name("web-cronjobs-d", "r-1")]
    handled = json.loads(cluster.cronjob("web-cronjobs-d")["metadata"]["annotations"][HANDLED])
    assert handled["result"] == "started"


def test_the_alerts_gauges_come_from_the_ledger_so_a_restart_keeps_them(cluster: Cluster) -> None:
    from cronjobs.keeper.metrics import Metrics

    cj = cluster.add_cronjob("web-cronjobs-m", suspend=True)
    cluster.add_job(cj, "web-cronjobs-m-1", started=NOW - timedelta(hours=2))
    cluster.add_job(cj, "web-cronjobs-m-2", "Failed", started=NOW - timedelta(hours=1))
    Keeper(cluster.controller(), clock=lambda: NOW).run_once()  # records both runs
    metrics = Metrics()  # a keeper that restarted: it records nothing new, reads the ledger
    metrics.update(Keeper(cluster.controller(), clock=lambda: NOW).run_once(), NOW)
    text = metrics.render()
    assert 'cronjobs_keeper_last_run_failed{cronjob="web-cronjobs-m"} 1' in text
    assert 'cronjobs_keeper_suspended{cronjob="web-cronjobs-m"} 1' in text
    success = next(
        x
        for x in text.splitlines()
        if x.startswith("cronjobs_keeper_last_success_timestamp_seconds{")
    )
    failure = next(
        x
        for x in text.splitlines()
        if x.startswith("cronjobs_keeper_last_failure_timestamp_seconds{")
    )
    assert float(success.split()[-1]) < float(failure.split()[-1]) <= NOW.timestamp()


def test_without_the_right_to_watch_the_keeper_lists_every_pass(cluster: Cluster) -> None:
    """A Role from before the keeper watched (no `watch` on Jobs): the informer gives up its
    cache, and the process passes by listing instead of waiting for a cache that never comes."""
    from cronjobs.keeper.process import keep

    cj = cluster.add_cronjob("web-cronjobs-n")
    cluster.add_job(cj, "web-cronjobs-n-1", started=NOW - timedelta(hours=1))
    keeper = Keeper(cluster.controller(), clock=lambda: NOW)
    cache = Cache.of(keeper, watch_seconds=1)
    with cluster.emulator.deny("watch", "batch/jobs"):
        for inf in cache.all():
            inf.step()  # the lists are allowed
        assert cache.synced and not cache.refused
        with pytest.raises(Forbidden, match="cannot watch"):
            cache.jobs.step()
        assert cache.refused and not cache.synced
        stop = threading.Event()
        ledger_path = f"/api/v1/namespaces/{cluster.namespace}/configmaps/web-cronjobs-n-runs"

        seen: list[bool] = []

        def recorded() -> bool:
            try:
                cluster.server.call("GET", ledger_path)
            except OSError:
                return False
            return True

        def watch() -> None:
            try:
                wait_for(recorded, 60)
                seen.append(True)
            finally:
                stop.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        from tests.keeper.test_loop import _free_port

        keep(
            cluster.controller(), selector=None, lease_name="web-keeper-n", interval=1,
            host="127.0.0.1", port=_free_port(), stop=stop,
        )  # fmt: skip
        watcher.join()
    assert seen == [True]  # the ledger was written: a pass ran, by listing


def test_an_unexpected_error_never_kills_the_informer_and_the_keeper_lists_meanwhile() -> None:
    """Not an API error (a bug, an object it cannot read): before, the thread died, the cache
    stayed unsynced and unrefused, and the keeper waited for it forever while /healthz said ok."""
    stop = threading.Event()

    class Api:
        calls = 0
        failing_at_retry: object = None

        def list_versioned(self, *args: object, **kw: object) -> tuple[list[object], str]:
            self.calls += 1
            if self.calls == 1:
                raise TypeError("an object it cannot read")
            self.failing_at_retry = inf.failing
            return [{"metadata": {"namespace": "web", "name": "web-cronjobs-a"}}], "7"

        def watch(self, *args: object, **kw: object) -> object:
            stop.wait(10)
            raise Forbidden("stopped")

    api = Api()
    inf = Informer(api, CRONJOBS, "web", SELECTOR, clock=lambda: NOW)  # type: ignore[arg-type]
    thread = threading.Thread(target=inf.run, args=(stop, 0.01), daemon=True)
    thread.start()
    for _ in range(500):
        if inf.synced:
            break
        time.sleep(0.01)
    stop.set()
    thread.join(10)
    assert isinstance(api.failing_at_retry, TypeError)  # meanwhile the keeper lists (refused)
    assert api.calls == 2 and names(inf) == ["web-cronjobs-a"]
