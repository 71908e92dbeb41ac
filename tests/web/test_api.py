"""The router's JSON endpoints against the emulator, through FastAPI's TestClient: the same shapes
as `cronctl -o json` (compared with the CLI's own output), changes recorded with the auth
dependency's user, and nothing of the pod's environment in any answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cronctl.conftest import Cluster
from tests.web.conftest import PREFIX, TestClient, csrf

API = f"{PREFIX}/api/cronjobs"
SUMMARY = '{"job": "cleanup-old-sessions", "exit_code": 0, "counts": {"deleted": 12}, "duration_seconds": 1.93}'


def seed(cluster: Cluster) -> dict[str, object]:
    created = datetime.now(UTC) - timedelta(days=2)
    sessions = cluster.add_cronjob("web-cronjobs-cleanup-old-sessions", created=created)
    cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *", created=created)
    started = datetime.now(UTC) - timedelta(hours=3)
    cluster.add_job(sessions, "web-cronjobs-cleanup-old-sessions-100", started=started)
    cluster.add_job(sessions, "web-cronjobs-cleanup-old-sessions-101", "Failed")
    cluster.add_pod(
        "web-cronjobs-cleanup-old-sessions-100",
        "web-cronjobs-cleanup-old-sessions-100-abcde",
        "line one\nline two\nline three\n",
        cronjob=sessions,
        exit_code=0,
        message=SUMMARY,
    )
    return sessions


def cli_json(cluster: Cluster, *args: str) -> object:
    result = cluster.run(*args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_list_describe_history_explain_are_cronctls_json(
    client: TestClient, cluster: Cluster
) -> None:
    seed(cluster)
    name = "web-cronjobs-cleanup-old-sessions"
    listed = client.get(API).json()
    assert [i["name"] for i in listed] == [name, "web-cronjobs-health-check"]
    assert listed == cli_json(cluster, "list")
    described = client.get(f"{API}/{name}").json()
    assert described == cli_json(cluster, "describe", name)
    assert described["runs"][1]["summary"]["counts"] == {"deleted": 12}
    assert client.get(f"{API}/{name}/history").json() == cli_json(cluster, "history", name)
    explained = client.get(f"{API}/{name}/explain").json()
    assert explained == cli_json(cluster, "explain", name)
    assert explained["last_failure"]["name"] == f"{name}-101"


def test_explain_since(client: TestClient, cluster: Cluster) -> None:
    seed(cluster)
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    answer = client.get(f"{API}/web-cronjobs-health-check/explain", params={"since": since})
    assert answer.status_code == 200
    assert answer.json()["since"].startswith(since[:16])  # a naive time is UTC
    assert 1 <= sum(answer.json()["counts"].values()) <= 3  # ticks of one hour, every 30 min


def test_logs_tail(client: TestClient, cluster: Cluster) -> None:
    seed(cluster)
    name = "web-cronjobs-cleanup-old-sessions"
    job = f"{name}-100"
    answer = client.get(f"{API}/{name}/logs", params={"job": job, "tail": 2}).json()
    pod = f"{job}-abcde"
    assert answer == {
        "job": job,
        "lines": [{"pod": pod, "line": "line two"}, {"pod": pod, "line": "line three"}],
        "truncated": True,
    }
    # The newest run (-101) has no pod left: said so, with cronctl's message.
    gone = client.get(f"{API}/{name}/logs")
    assert gone.status_code == 409
    assert gone.json()["detail"].startswith(f"Job {name}-101 has no pods left")


def test_suspend_records_the_user_and_reason(client: TestClient, cluster: Cluster) -> None:
    seed(cluster)
    name = "web-cronjobs-health-check"
    answer = client.post(
        f"{API}/{name}/suspend",
        json={"reason": "  database migration  "},
        headers={**csrf(client), "X-User": "alice@example.com"},
    )
    assert answer.status_code == 200, answer.text
    (change,) = answer.json()
    assert (change["name"], change["action"], change["changed"]) == (name, "suspended", True)
    # The shape of `cronctl suspend -o json` (on the other CronJob).
    (by_cli,) = cli_json(cluster, "suspend", "web-cronjobs-cleanup-old-sessions")  # type: ignore[misc]
    assert set(change) == set(by_cli) and by_cli["action"] == "suspended"
    stored = cluster.cronjob(name)
    annotations = stored["metadata"]["annotations"]
    assert stored["spec"]["suspend"] is True
    assert annotations["cronctl.cronjobs.dev/suspended-by"] == "alice@example.com"
    assert annotations["cronctl.cronjobs.dev/suspend-reason"] == "database migration"
    listed = {i["name"]: i for i in client.get(API).json()}
    assert (
        listed[name]["suspended"] is True and listed[name]["suspend_reason"] == "database migration"
    )
    # Again: already suspended, nothing sent.
    again = client.post(f"{API}/{name}/suspend", headers={**csrf(client), "X-User": "bob"})
    assert again.json()[0]["action"] == "already suspended"


def test_resume(client: TestClient, cluster: Cluster) -> None:
    cluster.add_cronjob(
        "web-cronjobs-health-check",
        suspend=True,
        annotations={
            "cronctl.cronjobs.dev/suspended-by": "alice",
            "cronctl.cronjobs.dev/suspend-reason": "x",
        },
    )
    answer = client.post(
        f"{API}/web-cronjobs-health-check/resume", headers={**csrf(client), "X-User": "bob"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["action"] == "resumed"
    stored = cluster.cronjob("web-cronjobs-health-check")
    assert stored["spec"]["suspend"] is False
    assert "cronctl.cronjobs.dev/suspended-by" not in (stored["metadata"].get("annotations") or {})


def test_trigger_records_the_user_and_reveals_no_environment(
    client: TestClient, cluster: Cluster
) -> None:
    seed(cluster)
    name = "web-cronjobs-health-check"
    answer = client.post(f"{API}/{name}/trigger", headers={**csrf(client), "X-User": "carol"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"apiVersion", "kind", "metadata"}
    job = body["metadata"]["name"]
    assert job.startswith(f"{name}-manual-")
    assert body["metadata"]["annotations"]["cronctl.cronjobs.dev/triggered-by"] == "carol"
    created = {j["metadata"]["name"]: j for j in cluster.jobs()}
    assert created[job]["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    # The stored Job has the pod's environment; no answer of the router shows it.
    assert "secretRef" in json.dumps(created[job])
    for path in ("", f"/{name}", f"/{name}/history", f"/{name}/explain"):
        assert "secretRef" not in client.get(API + path).text
    assert "secretRef" not in answer.text and "envFrom" not in answer.text
    history = client.get(f"{API}/{name}/history").json()
    assert history[0]["name"] == job and history[0]["triggered_by"] == "carol"


def test_trigger_refused_while_a_forbid_run_is_active(client: TestClient, cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")
    cluster.add_job(cj, "web-cronjobs-health-check-200", "Running")
    answer = client.post(
        f"{API}/web-cronjobs-health-check/trigger", headers={**csrf(client), "X-User": "carol"}
    )
    assert answer.status_code == 409
    assert "forbids concurrent runs" in answer.json()["detail"]
    forced = client.post(
        f"{API}/web-cronjobs-health-check/trigger",
        json={"force": True},
        headers={**csrf(client), "X-User": "carol"},
    )
    assert forced.status_code == 200
    assert len(cluster.jobs()) == 2
