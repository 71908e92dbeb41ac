"""Dead-man's-switch pings (jobs/cronjobs/pings.py) against a real HTTP server on loopback: the URLs of
healthchecks.io's and Cronitor's conventions, a failing or slow monitor that never fails the
run, and a URL (it holds a token) that never shows in a log line or message."""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cronjobs import pings
from cronjobs.errors import ConfigError
from cronjobs.redact import forget

TOKEN = "5f3c2a9e-1b7d-4c8e-9a2f-6d0e4b8c1a73"


@dataclass
class Monitor:
    """A stand-in for healthchecks.io: records each request path, answers `status`."""

    port: int = 0
    paths: list[str] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    trickle: float = 0.0
    """Seconds between the bytes of a 20-byte answer (0: all at once)."""

    def url(self, suffix: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/ping/{TOKEN}{suffix}"


@pytest.fixture()
def monitor() -> Iterator[Monitor]:
    state = Monitor()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            body = b"OK" if not state.trickle else b"x" * 20
            try:
                self.send_response(state.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                chunks = [body[i : i + 1] for i in range(len(body))] if state.trickle else [body]
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(state.trickle)
            except OSError:
                pass  # the client gave up (the slow-monitor test)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    forget()


def test_a_run_pings_start_then_success_with_the_same_run_id(monitor: Monitor) -> None:
    assert pings.notify(monitor.url(), "start", run_id="9c1e") is True
    assert pings.notify(monitor.url(), "success", 0, run_id="9c1e") is True

    start, success = monitor.paths
    assert start.startswith(f"/ping/{TOKEN}/start?rid=")
    assert success.startswith(f"/ping/{TOKEN}?rid=")
    assert start.split("rid=")[1] == success.split("rid=")[1]  # healthchecks pairs them


@pytest.mark.parametrize(("code", "suffix"), [(2, "/2"), (4, "/4"), (None, "/fail"), (0, "/fail")])
def test_a_failure_pings_the_exit_code(monitor: Monitor, code: int | None, suffix: str) -> None:
    assert pings.notify(monitor.url(), "fail", code) is True
    assert monitor.paths == [f"/ping/{TOKEN}{suffix}"]


def test_cronitor_urls_follow_the_telemetry_api() -> None:
    url = "https://cronitor.link/p/APIKEY123/nightly-cleanup"
    assert pings.ping_url(url, "start", run_id="9c1e") == f"{url}?state=run&series=9c1e"
    assert pings.ping_url(url, "success", 0) == f"{url}?state=complete&status_code=0"
    assert pings.ping_url(url, "fail", 2) == f"{url}?state=fail&status_code=2"
    assert pings.is_cronitor("https://eu.cronitor.link/p/k/m")
    assert not pings.is_cronitor("https://hc-ping.com/uuid")


@pytest.mark.parametrize("status", [404, 500])
def test_a_refusing_monitor_is_a_warning_without_the_url(
    monitor: Monitor, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    monitor.status = status
    with caplog.at_level(logging.DEBUG):
        assert pings.notify(monitor.url(), "fail", 2) is False
    assert f"dead-man's-switch ping (fail) refused: HTTP {status}" in caplog.text
    assert TOKEN not in caplog.text


def test_a_monitor_that_is_down_or_slow_never_fails_the_run(
    monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    monitor.delay = 1.0
    with caplog.at_level(logging.WARNING):
        assert pings.notify(monitor.url(), "start", timeout=0.1) is False
        down = f"http://127.0.0.1:1/ping/{TOKEN}"  # nothing listens on port 1
        assert pings.notify(down, "success", 0, timeout=0.5) is False
    assert "dead-man's-switch ping (start) abandoned: no complete answer within 0.1s" in caplog.text
    assert "dead-man's-switch ping (success) failed: [Errno 111] Connection refused" in caplog.text
    assert TOKEN not in caplog.text


def test_a_trickling_monitor_is_abandoned_at_the_timeout_and_logged(
    monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23 item 7: a byte every 0.4 s never trips a per-read timeout of 1 s (the 20-byte
    answer would take 8 s): the timeout bounds the whole request, so the ping is abandoned
    (False) and says so, instead of waiting for the whole answer and reporting success."""
    monitor.trickle = 0.4
    with caplog.at_level(logging.WARNING):
        assert pings.notify(monitor.url(), "success", 0, timeout=1.0) is False
    assert "dead-man's-switch ping (success) abandoned: no complete answer within 1s" in (
        caplog.text
    )
    assert "(CRONJOBS_PING_TIMEOUT)" in caplog.text and TOKEN not in caplog.text
    assert monitor.paths and monitor.paths[0].startswith(f"/ping/{TOKEN}")  # it was asked


def test_a_trickling_monitor_does_not_hold_the_run(monitor: Monitor, tmp_path: Path) -> None:
    """The entrypoint with CRONJOBS_PING_TIMEOUT=1 and a monitor that answers a byte every
    0.4 s: the run ends with its own exit code and logs both pings as abandoned (before the
    fix, each ping waited for the whole 8-second answer, logging nothing)."""
    from qdrant_client import QdrantClient

    from tests.jobs.helpers import cronjobs

    QdrantClient(path=str(tmp_path)).close()
    monitor.trickle = 0.4
    env = {
        "CRONJOBS_PING_URL": monitor.url(),
        "CRONJOBS_PING_TIMEOUT": "1",
        "QDRANT_PATH": str(tmp_path),
        "CRONJOBS_LOG_FORMAT": "text",
    }
    result = cronjobs("health-check", env=env)
    assert result.returncode == 0, result.stderr
    for event in ("start", "success"):
        assert f"dead-man's-switch ping ({event}) abandoned: no complete answer within 1s" in (
            result.stderr
        )
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"hc-ping.com/{TOKEN}", "CRONJOBS_PING_URL must start with https:// (or http://)"),
        (f"ftp://hc-ping.com/{TOKEN}", "CRONJOBS_PING_URL must start with https://"),
        (f"https:///{TOKEN}", "CRONJOBS_PING_URL has no host"),
        (f"https://hc-ping.com:99999/{TOKEN}", "CRONJOBS_PING_URL is not a valid URL"),
        (f"https://hc-ping.com/{TOKEN} /x", "CRONJOBS_PING_URL contains whitespace"),
    ],
)
def test_a_malformed_url_is_a_configuration_error_that_hides_it(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        pings.PingSettings.from_env({pings.URL_ENV: url})
    assert message in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.exit_code == 2
    forget()


def test_settings_from_the_environment() -> None:
    assert pings.PingSettings.from_env({}) is None
    assert pings.PingSettings.from_env({pings.URL_ENV: " "}) is None
    got = pings.PingSettings.from_env(
        {pings.URL_ENV: f"https://hc-ping.com/{TOKEN}", pings.TIMEOUT_ENV: "2.5"}
    )
    assert got == pings.PingSettings(f"https://hc-ping.com/{TOKEN}", 2.5)
    for bad in ("0", "-1", "nan", "61", "soon"):
        with pytest.raises(ConfigError, match="CRONJOBS_PING_TIMEOUT must be a number"):
            pings.PingSettings.from_env(
                {pings.URL_ENV: f"https://hc-ping.com/{TOKEN}", pings.TIMEOUT_ENV: bad}
            )
    forget()


def test_the_url_is_scrubbed_from_later_log_lines(monitor: Monitor) -> None:
    """notify remembers the URL and its token, so cronjobs.logs' filter masks them anywhere."""
    from cronjobs.redact import scrub

    pings.notify(monitor.url(), "start")
    assert scrub(f"calling {monitor.url()} now") == "calling *** now"
    assert scrub(f"token {TOKEN}") == "token ***"


def test_the_entrypoint_pings_start_and_end_of_a_real_run(monitor: Monitor, tmp_path: Path) -> None:
    """`cronjobs` itself (a subprocess, as in a pod): /start, then the plain URL on success or
    /<exit code> on failure, both with the run's rid; the token never in the output."""
    from qdrant_client import QdrantClient

    from tests.jobs.helpers import cronjobs

    QdrantClient(path=str(tmp_path)).close()  # a store to check (the check never makes one)
    env = {"CRONJOBS_PING_URL": monitor.url(), "QDRANT_PATH": str(tmp_path)}
    ok = cronjobs("health-check", env=env)
    assert ok.returncode == 0, ok.stderr
    started, ended = monitor.paths
    assert started.startswith(f"/ping/{TOKEN}/start?rid=")
    assert ended == f"/ping/{TOKEN}?" + started.split("?", 1)[1]
    failed = cronjobs("health-check", env={**env, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"})
    assert failed.returncode == 1
    assert monitor.paths[-1].startswith(f"/ping/{TOKEN}/1?rid=")
    assert TOKEN not in ok.stdout + ok.stderr + failed.stdout + failed.stderr
    bad = cronjobs("health-check", env={**env, "CRONJOBS_PING_URL": "ftp://x"})
    assert bad.returncode == 2 and "CRONJOBS_PING_URL must start with https://" in bad.stderr
