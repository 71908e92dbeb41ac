"""Dead-man's-switch pings: tell an outside monitor that a run started, succeeded or failed.

In-cluster alerts cannot fire when the cluster or its controller is down; a monitor outside
(healthchecks.io, Cronitor, a self-hosted Healthchecks) notices the *missing* ping instead.
The URL follows the service's conventions, chosen by its host:

- Cronitor (`cronitor.link`, `*.cronitor.link`, `*.cronitor.io`): the telemetry API,
  `?state=run|complete|fail`, plus `status_code=N` with an exit code and `series=ID` to pair a
  run's start with its end.
- anything else, healthchecks.io's pinging API (also self-hosted Healthchecks): `<url>/start`,
  `<url>` for success, `<url>/<exit code>` (1-255) or `<url>/fail` for a failure, plus
  `?rid=<uuid>` to pair a run's start with its end.

A ping never fails the run, nor holds it: CRONJOBS_PING_TIMEOUT bounds the whole request (name
look-up, connect, every byte of the answer: a deadline, not a per-read timeout), after which the
ping is abandoned and the run goes on; a slow, refused or failed ping is logged as a warning. The URL holds the check's token, so it is a secret: `notify` remembers it (and its
path segments) with `cronjobs.redact`, and no log line or message ever contains it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cronjobs import __version__
from cronjobs.errors import ConfigError
from cronjobs.redact import remember, scrub

log = logging.getLogger(__name__)

Event = Literal["start", "success", "fail"]
URL_ENV = "CRONJOBS_PING_URL"
TIMEOUT_ENV = "CRONJOBS_PING_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 60.0
_CRONITOR_STATES = {"start": "run", "success": "complete", "fail": "fail"}


@dataclass(frozen=True)
class PingSettings:
    """Where to ping and how long each ping may take (CRONJOBS_PING_URL/_TIMEOUT)."""

    url: str
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PingSettings | None:
        """None when CRONJOBS_PING_URL is unset or empty; ConfigError (exit 2) when it or the
        timeout is malformed: the message names the variable, never the URL."""
        import os

        env = os.environ if environ is None else environ
        url = (env.get(URL_ENV) or "").strip()
        if not url:
            return None
        remember(_secret_parts(url))
        check_url(url)
        raw = (env.get(TIMEOUT_ENV) or "").strip()
        try:
            timeout = float(raw) if raw else DEFAULT_TIMEOUT
        except ValueError:
            timeout = math.nan
        if not (0 < timeout <= MAX_TIMEOUT):
            raise ConfigError(
                f"{TIMEOUT_ENV} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}"
            )
        return cls(url, timeout)


def _secret_parts(url: str) -> list[str]:
    """The URL and the parts of it that carry a token (path segments, query values)."""
    try:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if len(s) >= 6]
        values = [v for _, v in parse_qsl(parts.query) if len(v) >= 6]
    except ValueError:
        return [url]
    return [url, *segments, *values]


def check_url(url: str) -> None:
    """ConfigError (exit 2) unless `url` is an absolute http(s) URL with a host; the message
    says what is wrong without repeating the URL (it holds a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise ConfigError(f"{URL_ENV} is not a valid URL ({scrub(str(e))})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{URL_ENV} must start with https:// (or http://)")
    if not host:
        raise ConfigError(f"{URL_ENV} has no host: give the full ping URL of the check")
    if any(c.isspace() for c in url):
        raise ConfigError(f"{URL_ENV} contains whitespace: copy the ping URL without it")


def is_cronitor(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("cronitor.link", "cronitor.io") or host.endswith(
        (".cronitor.link", ".cronitor.io")
    )


def ping_url(
    url: str, event: Event, exit_code: int | None = None, run_id: str | None = None
) -> str:
    """The URL to request for `event`, in the service's conventions (see the module doc)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    path = parts.path
    if is_cronitor(url):
        query.append(("state", _CRONITOR_STATES[event]))
        if exit_code is not None and event != "start":
            query.append(("status_code", str(exit_code)))
        if run_id:
            query.append(("series", run_id))
    else:
        base = path.rstrip("/")
        if event == "start":
            path = f"{base}/start"
        elif event == "fail":
            code = exit_code if exit_code is not None and 1 <= exit_code <= 255 else None
            path = f"{base}/{code}" if code is not None else f"{base}/fail"
        if run_id:
            query.append(("rid", str(uuid.uuid5(uuid.NAMESPACE_URL, run_id))))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def notify(
    url: str,
    event: Event,
    exit_code: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    run_id: str | None = None,
) -> bool:
    """Ping `url` for `event` ("start", "success", "fail" with the run's exit code); True when
    the service answered 2xx. Never raises, returns within about `timeout` seconds whatever the
    service does (the request runs in a daemon thread, abandoned at the deadline), and logs a
    failure as a warning without the URL."""
    remember(_secret_parts(url))
    try:
        check_url(url)
    except ConfigError as e:
        log.warning("dead-man's-switch ping (%s) not sent: %s", event, e)
        return False
    outcome: list[str | None] = []
    started = time.monotonic()
    thread = threading.Thread(
        target=lambda: outcome.append(_request(url, event, exit_code, timeout, run_id)),
        name=f"ping-{event}",
        daemon=True,  # an abandoned ping never keeps the process from exiting
    )
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not outcome:
        log.warning(
            "dead-man's-switch ping (%s) abandoned: no complete answer within %gs "
            "(CRONJOBS_PING_TIMEOUT)",
            event,
            timeout,
        )
        return False
    if outcome[0] is not None:
        log.warning("dead-man's-switch ping (%s) %s", event, outcome[0])
        return False
    log.debug("dead-man's-switch ping (%s) sent in %.2fs", event, time.monotonic() - started)
    return True


def _request(
    url: str, event: Event, exit_code: int | None, timeout: float, run_id: str | None
) -> str | None:
    """The ping's request: None when the service answered 2xx, else what went wrong (socket
    timeouts are per operation; `notify` holds the deadline, and logs, in the run's context)."""
    # Imported here: urllib.request (with http.client and email's parser) is ~10 ms of start-up
    # that a run without CRONJOBS_PING_URL, every run by default, does not pay.
    import urllib.error
    import urllib.request

    try:
        target = ping_url(url, event, exit_code, run_id)
        request = urllib.request.Request(
            target, method="GET", headers={"User-Agent": f"cronjobs/{__version__}"}
        )
        # The socket's own timeout only ends a wait nothing at all arrives in: past `timeout`,
        # the deadline in `notify` has fired first.
        with urllib.request.urlopen(request, timeout=timeout * 2) as response:
            response.read(1024)
            status = int(response.status)
    except urllib.error.HTTPError as e:
        return f"refused: HTTP {e.code}"
    except Exception as e:  # a ping must never fail the run
        reason = getattr(e, "reason", None) or e
        return f"failed: {scrub(str(reason))}"
    return None if 200 <= status < 300 else f"answered HTTP {status}"
