"""`cronctl keeper` as a long-running process: while this replica holds the Lease, a pass soon
after each change its informers see (watches of the CronJobs, Jobs and ledgers) and at least
every `interval`; `/metrics`, `/healthz`, `/readyz` on a small HTTP server (stdlib, no extra).
With `watch=False`, each pass lists instead (what the keeper did before it watched).

Stopped by SIGTERM or SIGINT: it finishes the pass in hand, gives the Lease up (so another
replica takes over at once rather than after the Lease's duration) and returns.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cronjobs.cronctl.controller import CronJobController
from cronjobs.cronctl.errors import ConfigError, CronctlError
from cronjobs.keeper.lease import Lease
from cronjobs.keeper.loop import Cache, Keeper
from cronjobs.keeper.metrics import Metrics

log = logging.getLogger(__name__)


def identity() -> str:
    """This replica's name in the Lease: the pod's name (HOSTNAME), else host and pid."""
    return os.environ.get("HOSTNAME") or f"{socket.gethostname()}-{os.getpid()}"


def keep(
    ctl: CronJobController,
    *,
    selector: str | None,
    lease_name: str,
    interval: float,
    host: str,
    port: int,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] | None = None,
    watch: bool = True,
) -> Metrics:
    stop = stop or _stop_on_signals()
    clock = clock or ctl.clock
    metrics = Metrics()
    keeper = Keeper(ctl, selector, clock)
    changed = threading.Event()
    cache = Cache.of(keeper, on_change=changed.set) if watch else None
    started = False
    lease = Lease(
        ctl.api, ctl.namespace, lease_name, identity(), timedelta(seconds=max(15, 3 * interval))
    )
    server = _serve(host, port, metrics, interval)
    log.info(
        "keeping CronJobs (%s) every %gs; metrics on %s:%d", keeper.selector, interval, host, port
    )
    try:
        while not stop.is_set():
            try:
                metrics.leader = lease.acquire(clock())
                if metrics.leader and cache is not None and not started:
                    cache.start(stop)  # kept on if the Lease is lost: a warm cache to come back to
                    started = True
                # Over the cache once it is in; by listing without one or while it is refused.
                ready = cache is not None and cache.synced and not cache.refused
                if metrics.leader and (ready or cache is None or cache.refused):
                    changed.clear()
                    metrics.update(keeper.run_once(cache if ready else None), clock())
                else:
                    metrics.last_pass = clock().timestamp()  # alive: following, or listing
            except CronctlError as e:  # the API is down or refuses: try again next time
                log.warning("pass failed: %s", e)
            waiting = cache is not None and not cache.synced and not cache.refused
            _wait(stop, changed, interval, 0.0 if waiting else None)
    finally:
        server.shutdown()
        if metrics.leader:
            try:
                lease.release(clock())
            except CronctlError as e:
                log.warning("could not give the Lease up: %s", e)
    return metrics


def _wait(
    stop: threading.Event, changed: threading.Event, interval: float, gap: float | None = None
) -> None:
    """Until the next pass: `interval`, or less once the informers saw a change (but at least
    a tenth of it, so a burst of events makes one pass, not one each). The Lease is renewed
    at every pass, well within its duration (3 intervals)."""
    gap = min(1.0, interval / 10) if gap is None else gap
    if stop.wait(gap):
        return
    waited = gap
    while waited < interval and not changed.is_set():
        step = min(0.2, interval - waited)
        if stop.wait(step):
            return
        waited += step


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    return stop


def _serve(host: str, port: int, metrics: Metrics, interval: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            import time

            if self.path == "/metrics":
                self._send(200, metrics.render(), "text/plain; version=0.0.4")
            elif self.path in ("/healthz", "/readyz"):
                fresh = metrics.last_pass and time.time() - metrics.last_pass < 3 * interval + 30
                ok = self.path == "/readyz" or fresh or metrics.passes == 0
                self._send(
                    200 if ok else 503, "ok\n" if ok else "no pass for too long\n", "text/plain"
                )
            else:
                self._send(404, "not found\n", "text/plain")

        def _send(self, code: int, body: str, kind: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:  # probes every few seconds: no access log
            return

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({e.strerror or e}): pick another --port"
        ) from e
    threading.Thread(target=server.serve_forever, name="keeper-http", daemon=True).start()
    return server
