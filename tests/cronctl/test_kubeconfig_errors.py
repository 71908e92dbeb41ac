"""Kubeconfig mistakes and servers that are not Kubernetes: one `Error:` line each, exit 2 for
what the kubeconfig must fix, no traceback, no password. The "servers" here are tiny local HTTP
servers (no real API server can run on this machine); the kubeconfigs are real files."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cronjobs.cronctl.cli import cli


def _kubeconfig(tmp_path: Path, server: str, user: dict[str, Any] | None = None) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user if user is not None else {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(kubeconfig: Path, *args: str) -> Any:
    env = {"KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    env["KUBERNETES_SERVICE_HOST"] = ""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr
    return str(lines[0])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound for the test but not listening: connecting is refused, and nothing else
    can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_a_missing_token_file_is_a_configuration_error(tmp_path: Path, closed_port: int) -> None:
    path = _kubeconfig(
        tmp_path, f"http://127.0.0.1:{closed_port}", {"tokenFile": "/nonexistent/token"}
    )
    result = _run(path, "list")
    assert result.exit_code == 2
    assert "/nonexistent/token" in _one_error_line(result)


@pytest.mark.parametrize("server", ["", "not a url", "https://:6443", "https://host:port"])
def test_a_server_that_is_not_a_url_is_a_configuration_error(tmp_path: Path, server: str) -> None:
    result = _run(_kubeconfig(tmp_path, server), "list")
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "the cluster's server is" in line and "clusters[].cluster.server" in line


def test_a_password_in_the_server_url_is_never_shown(tmp_path: Path, closed_port: int) -> None:
    path = _kubeconfig(tmp_path, f"http://user:Pa55w0rd-XyZ@127.0.0.1:{closed_port}")
    for args in (["list"], ["-v", "list"]):
        result = _run(path, *args)
        assert result.exit_code == 1
        assert "Pa55w0rd-XyZ" not in result.stderr + result.stdout
    assert "cannot reach the Kubernetes API at http://user:***@127.0.0.1" in result.stderr


@pytest.mark.parametrize("content", ["- just\n- a list\n", "clusters: [\n", "{{{"])
def test_a_kubeconfig_that_is_not_one_says_so_on_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(content)
    result = _run(path, "list")
    assert result.exit_code == 2
    assert f"cannot use kubeconfig {path}" in _one_error_line(result)


def test_a_failing_exec_plugin_is_a_configuration_error(tmp_path: Path, closed_port: int) -> None:
    plugin = {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nonexistent-plugin"}
    path = _kubeconfig(tmp_path, f"http://127.0.0.1:{closed_port}", {"exec": plugin})
    result = _run(path, "list")
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "credentials failed to load" in line and "nonexistent-plugin" in line


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _serving(status: int, headers: dict[str, str], body: bytes = b"") -> Iterator[str]:
    """A local HTTP server answering every request with this response; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PATCH = do_GET

        def log_message(self, *_: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_server() -> Iterator[str]:
    """A server that answers every request 200 with an HTML page (a proxy's login page)."""
    yield from _serving(200, {"Content-Type": "text/html"}, b"<html>please log in</html>")


@pytest.fixture
def login_redirect() -> Iterator[str]:
    """A proxy that sends every request to its login page (302)."""
    yield from _serving(302, {"Location": "https://sso.example/login?next=/api"})


def test_a_redirect_to_a_login_page_is_named(tmp_path: Path, login_redirect: str) -> None:
    result = _run(_kubeconfig(tmp_path, login_redirect), "list")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"the server at {login_redirect} redirected (302" in line
    assert "to https://sso.example/login?next=/api" in line and "cannot reach" not in line


def test_a_server_that_does_not_answer_json_is_named(tmp_path: Path, html_server: str) -> None:
    path = _kubeconfig(tmp_path, html_server)
    for args in (["list"], ["describe", "foo"], ["suspend", "foo", "--reason", "x"]):
        result = _run(path, *args)
        assert result.exit_code == 1, args
        line = _one_error_line(result)
        assert f"the server at {html_server} did not answer with JSON (200, text/html)" in line
        assert "not a proxy or a login page" in line


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[float]]]:
    """Accepts connections, reads the request, never answers; records each connection."""
    accepted: list[float] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(time.monotonic())
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()
        for conn in held:
            conn.close()


def test_request_timeout_bounds_each_call_not_each_retry(
    tmp_path: Path, silent_server: tuple[str, list[float]]
) -> None:
    """A read that times out is not retried: one request, not urllib3's four."""
    url, accepted = silent_server
    result = _run(_kubeconfig(tmp_path, url), "--request-timeout", "0.5", "list")
    assert result.exit_code == 1
    assert "cannot reach the Kubernetes API" in _one_error_line(result)
    assert len(accepted) == 1
