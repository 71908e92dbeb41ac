"""A small informer: the objects of one resource kept up to date by a watch, as client-go's
reflector keeps them (https://kubernetes.io/docs/reference/using-api/api-concepts/,
"Efficient detection of changes").

List (in pages), then watch from the list's resourceVersion with bookmarks. When the server
ends the watch (its timeoutSeconds) or the connection drops, watch again from the last version
seen (an event's or a bookmark's). When that version is too old (410 Gone: etcd compacted it
away, or the watch fell behind), list again. Every `resync` (by the injected clock) it lists
again anyway, a safety net that costs one list.

Requests go through cronctl's KubeApi choke point (auth, TLS, errors translated once): its
`list_versioned` and `watch`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import urllib3

from cronjobs.cronctl.api import KubeApi, Obj, watch_events
from cronjobs.cronctl.errors import ApiError, CronctlError, Forbidden

log = logging.getLogger(__name__)

WATCH_SECONDS = 300
"""How long one watch request asks to last (timeoutSeconds); it is then renewed from its last
resourceVersion, which costs one request."""


class Expired(Exception):
    """The version to watch from is gone (410): list again."""


class Informer:
    def __init__(
        self,
        api: KubeApi,
        resource: str,
        namespace: str | None,
        selector: str | None,
        *,
        clock: Callable[[], datetime],
        keep: Callable[[Obj], Obj] | None = None,
        resync: timedelta = timedelta(hours=1),
        watch_seconds: int = WATCH_SECONDS,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.api, self.resource, self.namespace, self.selector = api, resource, namespace, selector
        self.clock, self.keep, self.resync = clock, keep or (lambda o: o), resync
        self.watch_seconds = watch_seconds
        self.on_change = on_change or (lambda: None)
        self.version: str | None = None
        """The last resourceVersion seen: a watch resumes from it; None: list first."""
        self.listed_at: datetime | None = None
        self.lists = 0
        self.watches = 0
        self.refused: Forbidden | None = None
        """Set while the API server refuses this informer's list or watch (a Role without
        `watch`, e.g. a chart older than the keeper): the keeper then lists every pass."""
        self.failing: Exception | None = None
        """Set while its steps fail with anything but an API error (a bug, an object it cannot
        read): the keeper lists every pass meanwhile, as when refused."""
        self._items: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()

    # -- what the keeper reads -------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """True once a first list is in."""
        return self._synced.is_set()

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._items.values())

    # -- keeping it up to date -------------------------------------------------------------------

    def step(self, stop: threading.Event | None = None) -> None:
        """List if needed (never listed, 410, resync due), else one watch until it ends."""
        due = self.listed_at is None or self.clock() - self.listed_at >= self.resync
        try:
            if self.version is None or due:
                self.relist()
            else:
                self.watch(stop)
        except Forbidden as e:  # not synced any more: what it holds would go stale
            self.refused = e
            self._synced.clear()
            self.version = None
            raise
        except Expired:
            log.info(
                "%s: resourceVersion %s expired (410): listing again", self.resource, self.version
            )
            self.version = None

    def run(self, stop: threading.Event, backoff: float = 5.0) -> None:
        """Keep stepping until `stop`; an API error waits `backoff` seconds, then tries again
        (a refusal, 12 times as long: a Role is not fixed in seconds)."""
        while not stop.is_set():
            try:
                self.step(stop)
                self.refused = self.failing = None
            except Forbidden as e:
                log.warning("%s: %s: the keeper lists every pass meanwhile", self.resource, e)
                stop.wait(12 * backoff)
            except CronctlError as e:
                log.warning("%s: %s (again in %gs)", self.resource, e, backoff)
                stop.wait(backoff)
            except Exception as e:  # a bug or an object it cannot read: never a dead thread
                log.exception("%s: the watch failed: listing again in %gs", self.resource, backoff)
                self.failing = e
                self._synced.clear()  # what it holds may be stale: the keeper lists meanwhile
                self.version = None
                stop.wait(backoff)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop,), name=f"informer-{self.resource}", daemon=True
        )
        thread.start()
        return thread

    def relist(self) -> None:
        """Replace every object with a fresh list; remember the list's resourceVersion. A
        continue token that expires while paging (410) starts the list over, once."""
        try:
            items, version = self._list()
        except ApiError as e:
            if e.status != 410:
                raise
            log.debug("the list of %s expired while paging: starting over", self.resource)
            items, version = self._list()
        with self._lock:
            self._items = items
        self.version = version
        self.listed_at = self.clock()
        self.lists += 1
        self._synced.set()
        self.on_change()

    def _list(self) -> tuple[dict[tuple[str, str], Obj], str | None]:
        items, version = self.api.list_versioned(
            self.resource, self.namespace, self.selector, keep=self.keep
        )
        return {_key(obj): obj for obj in items}, version

    def watch(self, stop: threading.Event | None = None) -> None:
        """One watch request from `version`, applying its events as they come, until the server
        ends it or the connection drops (then the next `step` watches again from the last
        version seen). Raises Expired on 410 Gone."""
        self.watches += 1
        try:
            response = self.api.watch(
                self.resource,
                self.namespace,
                str(self.version),
                self.selector,
                seconds=self.watch_seconds,
            )
        except ApiError as e:
            if e.status == 410:
                raise Expired() from e
            raise
        try:
            for line in watch_events(response):
                self._apply(json.loads(line))
                if stop is not None and stop.is_set():
                    return
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            log.debug(
                "%s: watch ended (%s): watching again from %s", self.resource, e, self.version
            )
        finally:
            response.close()
            response.release_conn()

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired()
            raise ApiError(
                f"the watch of {self.resource} failed: {obj.get('message')}", obj.get("code") or 500
            )
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            kept = self.keep(obj)
            with self._lock:
                self._items[_key(kept)] = kept
        elif kind == "DELETED":
            with self._lock:
                self._items.pop(_key(obj), None)
        if version:
            self.version = str(version)
        if kind != "BOOKMARK":
            self.on_change()


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
