"""`cronctl serve`: its options, its refusals (exit 2 with the reason), the auth methods, and
that neither `cronctl --help` nor `cronjobs --help` imports the web stack."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cronctl.conftest import Cluster
from tests.web.serving import REPO, cronctl_serve

WEB = {"fastapi", "starlette", "uvicorn", "pydantic", "cronjobs.web"}
TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("cronjobs.cronctl.cli", ["--help"]),
        ("cronjobs.cronctl.cli", ["serve", "--help"]),
        ("cronjobs.cli", ["--help"]),
    ],
)
def test_help_imports_no_web_stack(module: str, args: list[str]) -> None:
    code = (
        f"import sys; from {module} import main; sys.argv = ['x', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    loaded = set(out.rsplit("LOADED", 1)[1].split())
    assert not {m for m in loaded if m.split(".")[0] in WEB or m.startswith("cronjobs.web")}
    if args == ["serve", "--help"]:
        assert "CRONCTL_SERVE_TOKENS_FILE" in out and "CRONCTL_SERVE_TRUST_USER_HEADER" in out


def test_refusals_exit_2_with_the_reason(cluster: Cluster, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("alice abc\n")
    result = cluster.run("serve", "--tokens-file", str(short))
    assert result.exit_code == 2
    assert "line 1: write `NAME TOKEN` with a token of at least 16 characters" in result.stderr
    missing = cluster.run("serve", "--tokens-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "Error: --tokens-file:" in missing.stderr
    good = tmp_path / "tokens"
    good.write_text(f"alice {TOKEN}\n")
    both = cluster.run("serve", "--tokens-file", str(good), "--trust-user-header", "X-User")
    assert both.exit_code == 2
    assert "choose one auth method: --tokens-file or --trust-user-header" in both.stderr


def test_a_port_in_use_exits_2_with_what_to_do(cluster: Cluster) -> None:
    """Not uvicorn's own exit 3 (which reads as "trigger refused" in cronctl's table)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cluster.run("serve", "--host", "127.0.0.1", "--port", str(port))
    assert result.exit_code == 2, result.stderr
    assert f"Error: cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
    assert "pick another --port" in result.stderr


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, object, str]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read()), r.headers.get("Set-Cookie", "")


def _post(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _csrf(url: str) -> dict[str, str]:
    _, session, cookie = _get(f"{url}/cronjobs/api/session")
    token = session["csrf_token"]  # type: ignore[index]
    return {"X-CSRF-Token": token, "Cookie": cookie.split(";")[0]}


def test_serve_read_only_by_default_and_selects_its_release(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    other = {"app.kubernetes.io/name": "cronjobs", "app.kubernetes.io/instance": "other"}
    cluster.add_cronjob("other-cronjobs-health-check", labels=other)
    selector = "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=web"
    with cronctl_serve(cluster.kubeconfig, "--selector", selector) as url:
        status, listed, _ = _get(f"{url}/cronjobs/api/cronjobs")
        assert status == 200 and [i["name"] for i in listed] == ["web-cronjobs-health-check"]  # type: ignore[union-attr]
        code, body = _post(
            f"{url}/cronjobs/api/cronjobs/web-cronjobs-health-check/trigger", _csrf(url)
        )
    assert code == 403 and str(body["detail"]).startswith("read-only")
    assert cluster.jobs() == []


def test_serve_with_tokens_records_the_tokens_name(cluster: Cluster, tmp_path: Path) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# who may change CronJobs\nalice {TOKEN}\n")
    with cronctl_serve(cluster.kubeconfig, "--tokens-file", str(tokens)) as url:
        trigger = f"{url}/cronjobs/api/cronjobs/web-cronjobs-health-check/trigger"
        code, body = _post(trigger, _csrf(url))
        assert code == 401 and "Authorization: Bearer TOKEN" in str(body["detail"])
        code, body = _post(
            trigger, {**_csrf(url), "Authorization": "Bearer wrong-token-0123456789"}
        )
        assert code == 401 and str(body["detail"]).startswith("invalid token")
        assert cluster.jobs() == []
        code, body = _post(trigger, {**_csrf(url), "Authorization": f"Bearer {TOKEN}"})
        assert code == 200, body
        # A rotated Secret: the new token works at once, the old one no longer does.
        tokens.write_text(f"alice {TOKEN}-rotated\n")
        code, _ = _post(trigger, {**_csrf(url), "Authorization": f"Bearer {TOKEN}"})
        assert code == 401
    (job,) = cluster.jobs()
    assert job["metadata"]["annotations"]["cronctl.cronjobs.dev/triggered-by"] == "alice"


def test_serve_trusting_a_proxy_header(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    with cronctl_serve(cluster.kubeconfig, "--trust-user-header", "X-Forwarded-User") as url:
        suspend = f"{url}/cronjobs/api/cronjobs/web-cronjobs-health-check/suspend"
        code, body = _post(suspend, _csrf(url))
        assert code == 401 and "no X-Forwarded-User header" in str(body["detail"])
        code, _ = _post(suspend, {**_csrf(url), "X-Forwarded-User": "bob@example.com"})
        assert code == 200
    annotations = cluster.cronjob("web-cronjobs-health-check")["metadata"]["annotations"]
    assert annotations["cronctl.cronjobs.dev/suspended-by"] == "bob@example.com"
