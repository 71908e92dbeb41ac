"""The emulator's watch: a bounded log of changes and the stream that serves it (kmock's own
watch streams every object as ADDED, then changes, and ignores resourceVersion).

As the API server does it (https://kubernetes.io/docs/reference/using-api/api-concepts/
"Efficient detection of changes", "Watch bookmarks"):
- `GET ...?watch=1&resourceVersion=N` streams, as newline-delimited JSON, every change after N
  (`{"type": "ADDED"|"MODIFIED"|"DELETED", "object": ...}`), then changes as they happen;
  without resourceVersion (or "0"), first the current objects as ADDED.
- A resourceVersion older than the retained window (etcd compacts its history, 5 minutes by
  default) is answered 200 with one `ERROR` event whose object is a Status, code 410, reason
  "Expired" ("too old resource version"): the client must list again.
- With `allowWatchBookmarks=true`, a `BOOKMARK` event now and then whose object carries only
  kind, apiVersion and metadata.resourceVersion: the client may resume from it.
- `labelSelector` filters as the watch cache does: an object that comes to match is ADDED, one
  that stops matching is DELETED. `timeoutSeconds` ends the stream cleanly.
- A DELETED event carries the object with the deletion's resourceVersion.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Selector = Callable[[str, dict[str, str]], bool]


@dataclass(frozen=True)
class Change:
    seq: int
    rv: int
    resource: str
    namespace: str
    type: str
    body: str
    """The object as JSON (serialized when it changed: later changes do not alter it)."""
    labels: dict[str, str] | None
    before: dict[str, str] | None
    """The object's labels before the change (None: it did not exist)."""


class WatchLog:
    """The last `window` changes, in the order they were written (so in resourceVersion order:
    the emulator serializes its writes)."""

    def __init__(self, window: int = 10_000) -> None:
        self.window = window
        self.changes: collections.deque[Change] = collections.deque()
        self.seq = 0
        self.last_rv = 0
        self.compacted = 0
        """Changes up to this resourceVersion are gone: a watch from before it is 410."""
        self.labels: dict[tuple[str, str, str], dict[str, str]] = {}
        self._changed = asyncio.Event()
        self.dropped = 0
        """Bumped by `drop`: streams opened before end at once (a dropped connection)."""

    def record(self, resource: str, kind: str, obj: dict[str, Any], rv: int) -> None:
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        key = (resource, namespace, name)
        before = self.labels.get(key)
        labels = dict(meta.get("labels") or {})
        if kind == "DELETED":
            self.labels.pop(key, None)
        else:
            self.labels[key] = labels
        self.seq += 1
        self.last_rv = max(self.last_rv, rv)
        body = json.dumps(obj, separators=(",", ":"), default=str)
        self.changes.append(Change(self.seq, rv, resource, namespace, kind, body, labels, before))
        while len(self.changes) > self.window:
            self.compacted = self.changes.popleft().rv
        self._changed.set()
        self._changed = asyncio.Event()

    def compact(self) -> None:
        """Forget every change so far, as etcd's compaction does: older versions are 410."""
        self.compacted = self.last_rv
        self.changes.clear()

    def drop(self) -> None:
        """End every open watch stream (a dropped connection: the client must watch again)."""
        self.dropped += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, rv: int) -> int | None:
        """The seq to stream from for a watch from `rv`; None when `rv` is compacted away."""
        if rv < self.compacted:
            return None
        return next((c.seq for c in self.changes if c.rv > rv), self.seq + 1)

    def since(self, seq: int) -> list[Change] | None:
        """The changes from `seq` on; None if some of them are already gone."""
        first = self.seq - len(self.changes) + 1
        if seq < first:
            return None
        return list(itertools.islice(self.changes, seq - first, None))

    def waiter(self) -> asyncio.Event:
        """Set at the next change (or drop)."""
        return self._changed


def seen_as(change: Change, selector: str | None, matches: Selector) -> str | None:
    """The event type a watch with `selector` sees for `change` (None: not at all)."""
    if not selector:
        return change.type
    now = change.labels is not None and matches(selector, change.labels)
    was = change.before is not None and matches(selector, change.before)
    if change.type == "DELETED":
        return "DELETED" if was or now else None
    if now and was:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if was else None


def gone(rv: int, compacted: int) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv} ({compacted})",
        "reason": "Expired",
        "code": 410,
    }


@dataclass(frozen=True)
class Watch:
    """One watch request's parameters."""

    resource: str
    namespace: str | None
    selector: str | None
    resource_version: str | None
    bookmarks: bool
    timeout: float
    kind: str
    api_version: str


async def stream(
    log: WatchLog,
    watch: Watch,
    current: Callable[[], list[dict[str, Any]]],
    write: Callable[[bytes], Awaitable[None]],
    matches: Selector,
    bookmark_seconds: float,
) -> None:
    """Serve one watch until its timeout, a dropped connection or a 410."""
    loop = asyncio.get_running_loop()
    end = loop.time() + watch.timeout
    dropped = log.dropped

    async def send(kind: str, body: str) -> None:
        await write(f'{{"type":"{kind}","object":{body}}}\n'.encode())

    rv = watch.resource_version
    if not rv or rv == "0":
        for obj in current():
            await send("ADDED", json.dumps(obj, separators=(",", ":"), default=str))
        position = log.seq + 1
    else:
        start = log.after(int(rv))
        if start is None:
            await send("ERROR", json.dumps(gone(int(rv), log.compacted)))
            return
        position = start
    next_bookmark = loop.time() + bookmark_seconds
    while True:
        changes = log.since(position)
        if changes is None:  # this watcher fell behind the window: it must list again
            await send("ERROR", json.dumps(gone(position, log.compacted)))
            return
        for change in changes:
            position = change.seq + 1
            if change.resource != watch.resource:
                continue
            if watch.namespace and change.namespace != watch.namespace:
                continue
            kind = seen_as(change, watch.selector, matches)
            if kind is not None:
                await send(kind, change.body)
        now = loop.time()
        if watch.bookmarks and now >= next_bookmark:
            mark = {
                "kind": watch.kind,
                "apiVersion": watch.api_version,
                "metadata": {"resourceVersion": str(log.last_rv)},
            }
            await send("BOOKMARK", json.dumps(mark))
            next_bookmark = now + bookmark_seconds
        if now >= end or log.dropped != dropped:
            return
        changed = log.waiter()
        wait = min(end, next_bookmark if watch.bookmarks else end) - now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=max(wait, 0.0))
        if log.dropped != dropped:
            return
