"""What the router refuses, and says why: read-only mode, no or an anonymous user, cross-site
requests, a bad name, and the API server's own errors. After each refusal the emulator shows
that nothing changed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cronjobs.cronctl.controller import CronJobController
from tests.cronctl.conftest import Cluster
from tests.web.conftest import PREFIX, TestClient, app_with, csrf

API = f"{PREFIX}/api/cronjobs"
NAME = "web-cronjobs-health-check"


def patches(cluster: Cluster) -> list[tuple[str, str]]:
    return [
        c for c in cluster.emulator.calls if c[0] in ("PATCH", "POST") and cluster.namespace in c[1]
    ]


def test_read_only_refuses_changes_and_says_so(read_only: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    session = read_only.get(f"{PREFIX}/api/session").json()
    assert session["read_only"] is True and "read-only" in session["message"]
    for verb in ("suspend", "resume", "trigger"):
        answer = read_only.post(f"{API}/{NAME}/{verb}", headers=csrf(read_only))
        assert answer.status_code == 403
        assert answer.json()["detail"].startswith("read-only: this dashboard has no auth method")
    assert patches(cluster) == []
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False
    page = read_only.get(f"{PREFIX}/").text
    assert "Read-only." in page and NAME in page
    assert "data-action" not in page and "<dialog" not in page
    assert read_only.get(API).status_code == 200  # reading still works


def test_changes_need_the_dependencys_user(client: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    answer = client.post(f"{API}/{NAME}/suspend", json={"reason": "x"}, headers=csrf(client))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "who are you? sign in to the app first"
    assert patches(cluster) == []
    assert client.get(f"{PREFIX}/api/session").json()["read_only"] is False


def test_a_dependency_that_names_no_one_is_refused(
    controller: CronJobController, cluster: Cluster
) -> None:
    cluster.add_cronjob(NAME)
    with TestClient(app_with(controller, lambda: None)) as client:
        answer = client.post(f"{API}/{NAME}/trigger", headers=csrf(client))
    assert answer.status_code == 401 and "named no one" in answer.json()["detail"]
    assert cluster.jobs() == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"Origin": "https://evil.example"},
            "Origin https://evil.example is not http://testserver",
        ),
        (
            {"Sec-Fetch-Site": "cross-site"},
            "cross-site request refused (Sec-Fetch-Site: cross-site)",
        ),
        ({"Sec-Fetch-Site": "same-site"}, "cross-site request refused (Sec-Fetch-Site: same-site)"),
    ],
)
def test_cross_site_requests_are_refused(
    client: TestClient, cluster: Cluster, headers: dict[str, str], message: str
) -> None:
    cluster.add_cronjob(NAME)
    answer = client.post(
        f"{API}/{NAME}/suspend", headers={**csrf(client), "X-User": "alice", **headers}
    )
    assert answer.status_code == 403
    assert message in answer.json()["detail"]
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False


def test_same_origin_with_a_token_is_accepted(client: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    headers = {
        **csrf(client),
        "X-User": "alice",
        "Origin": "http://testserver",
        "Sec-Fetch-Site": "same-origin",
    }
    assert client.post(f"{API}/{NAME}/suspend", headers=headers).status_code == 200


def test_csrf_token_missing_mismatched_or_forged(client: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    user = {"X-User": "alice"}
    missing = client.post(f"{API}/{NAME}/suspend", headers=user)
    assert (
        missing.status_code == 403
        and "missing or mismatched CSRF token" in missing.json()["detail"]
    )
    token = csrf(client)["X-CSRF-Token"]
    other = client.post(f"{API}/{NAME}/suspend", headers={**user, "X-CSRF-Token": token + "0"})
    assert other.status_code == 403 and "mismatched" in other.json()["detail"]
    # A cookie and a header an attacker chose together: equal, but not signed by this router.
    client.cookies.set("cronctl_csrf", "abc.def", path=f"{PREFIX}/")
    forged = client.post(f"{API}/{NAME}/suspend", headers={**user, "X-CSRF-Token": "abc.def"})
    assert forged.status_code == 403 and forged.json()["detail"].startswith("invalid CSRF token")
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False


def test_bad_name_is_refused_before_any_api_call(client: TestClient, cluster: Cluster) -> None:
    before = len(cluster.emulator.calls)
    for path in ("/Bad_Name", "/x..y/history", "/-x/explain", "/a%2Fb/logs"):
        answer = client.get(API + path)
        assert answer.status_code in (400, 404), path
        if answer.status_code == 400:
            assert "invalid name" in answer.json()["detail"]
    bad_job = client.get(f"{API}/{NAME}/logs", params={"job": "../../secrets"})
    assert bad_job.status_code == 400 and 'invalid name "../../secrets"' in bad_job.json()["detail"]
    page = client.get(f"{PREFIX}/jobs/Bad_Name")
    assert page.status_code == 400 and "invalid name" in page.text
    assert len(cluster.emulator.calls) == before


def test_not_found(client: TestClient, cluster: Cluster) -> None:
    answer = client.get(f"{API}/nope")
    assert answer.status_code == 404
    assert answer.json()["detail"].startswith('CronJob "nope" not found in namespace')
    page = client.get(f"{PREFIX}/jobs/nope")
    assert page.status_code == 404 and "CronJob &quot;nope&quot; not found" in page.text


def test_api_errors_keep_their_meaning(client: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    with cluster.emulator.deny("patch", "batch/cronjobs"):
        answer = client.post(f"{API}/{NAME}/suspend", headers={**csrf(client), "X-User": "alice"})
    assert answer.status_code == 403
    assert 'cronctl needs the "patch" verb on "cronjobs"' in answer.json()["detail"]
    with cluster.emulator.deny("list", "batch/cronjobs"):
        listed = client.get(API)
        page = client.get(f"{PREFIX}/")
    assert listed.status_code == 403 and '"list" verb' in listed.json()["detail"]
    assert page.status_code == 403 and "Error 403" in page.text


def test_unreachable_api_server(cluster: Cluster, tmp_path: object) -> None:
    import yaml

    from cronjobs.cronctl.api import ClientSettings

    config = cluster.server.kubeconfig(cluster.namespace)
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"  # discard: nothing listens
    path = cluster.kubeconfig.with_name("down")
    path.write_text(yaml.safe_dump(config))
    down = CronJobController.connect(ClientSettings(str(path), request_timeout=2))
    with TestClient(app_with(down, None)) as client:
        answer = client.get(API)
    assert answer.status_code == 503
    assert "127.0.0.1:9" in answer.json()["detail"]


def test_a_slow_api_call_does_not_block_the_event_loop(cluster: Cluster) -> None:
    """While one request waits in the controller, another is answered: the controller runs in
    the threadpool. The first is held on a threading.Event that only the second releases."""
    import threading

    cluster.add_cronjob(NAME)
    entered, release = threading.Event(), threading.Event()

    class Held(CronJobController):
        def list_cronjobs(self, selector: str | None = None):  # type: ignore[no-untyped-def]
            entered.set()
            assert release.wait(10), "never released"
            return super().list_cronjobs(selector)

    real = cluster.controller()
    held = Held(real.api, namespace=cluster.namespace)

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app_with(held, None))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            slow = asyncio.create_task(http.get(API))
            assert await asyncio.to_thread(entered.wait, 10)  # it waits in the controller
            quick = await asyncio.wait_for(http.get(f"{PREFIX}/api/session"), 10)
            release.set()
            return quick.status_code, (await asyncio.wait_for(slow, 10)).status_code

    assert asyncio.run(scenario()) == (200, 200)
    real.close()
