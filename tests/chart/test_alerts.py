"""The PrometheusRule's alerts, evaluated by the real promtool (Debian package `prometheus`).

The rendered `spec.groups` become a rules file: `promtool check rules` on every job's group, and
`promtool test rules` on the health-check job's group with synthetic kube-state-metrics series
(sampled every minute: a gap over the 5-minute lookback would end the series), each alert firing
and staying silent; the same from the keeper's series, and the keeper's own alerts (down,
stalled) on synthetic series of its scrape targets. promtool compares annotations exactly, so
each expected alert lists them: they are what the operator reads and runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from chart_helpers import NAMESPACE, Render, by_kind

from cronjobs.cronctl.cli import cli as cronctl

CJ = "cronjobs-health-check"
KEEPER = "cronjobs-keeper"  # the keeper's Deployment, Service (its targets' job), Lease, rules
NS = NAMESPACE
RULE_ARGS = ("--set", "metrics.prometheusRule.enabled=true")
KEEPER_ARGS = (*RULE_ARGS, "--set", "keeper.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")  # fmt: skip


@pytest.fixture(scope="session")
def promtool() -> Path:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found and Path("/usr/bin/promtool").exists():
        found = "/usr/bin/promtool"
    if not found:
        pytest.fail(
            "promtool not found (set PROMTOOL, or install the Debian package `prometheus`: "
            "`make deps` installs it)"
        )
    return Path(found)


@pytest.fixture(scope="module")
def rules(render: Render) -> list[dict[str, Any]]:
    docs = by_kind(render(*RULE_ARGS), "PrometheusRule")
    assert len(docs) == 5
    return docs


@pytest.fixture(scope="module")
def rule_files(rules: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _rule_files(rules, tmp_path_factory.mktemp("rules"))


def _rule_files(rules: list[dict[str, Any]], folder: Path) -> Path:
    """all.yaml: every group; health-check.yaml: that job's group only; keeper.yaml: the
    keeper's own group (when rendered)."""
    groups = [group for doc in rules for group in doc["spec"]["groups"]]
    (folder / "all.yaml").write_text(yaml.safe_dump({"groups": groups}))
    (hc,) = [g for g in groups if g["name"] == CJ]
    (folder / "health-check.yaml").write_text(yaml.safe_dump({"groups": [hc]}))
    for keeper in (g for g in groups if g["name"] == KEEPER):
        (folder / "keeper.yaml").write_text(yaml.safe_dump({"groups": [keeper]}))
    return folder


def _run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_promtool_accepts_every_rule(promtool: Path, rule_files: Path) -> None:
    proc = _run(promtool, "check", "rules", "all.yaml", cwd=rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 15 rules found" in proc.stdout


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    body = ", ".join(f'{k}="{v}"' for k, v in {"namespace": NS, **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def _job(job: str, start: int, failed: int, owner: str = CJ) -> list[dict[str, str]]:
    """A Job of `owner` started at `start` (s), failed or not, as kube-state-metrics shows it."""
    return [
        _series("kube_job_owner", "1x400", job_name=job, owner_kind="CronJob",
                owner_name=owner, owner_is_controller="true"),
        _series("kube_job_status_start_time", f"{start}x400", job_name=job),
        _series("kube_job_failed", f"{failed}x400", job_name=job, condition="true"),
    ]  # fmt: skip


def _cronjob(*, suspend: str = "0x400", last_success: str | None = "0x400") -> list[dict[str, str]]:
    series = [
        _series("kube_cronjob_created", "0x400", cronjob=CJ),
        _series("kube_cronjob_spec_suspend", suspend, cronjob=CJ),
    ]
    if last_success is not None:
        series.append(_series("kube_cronjob_status_last_successful_time", last_success, cronjob=CJ))
    return series


LABELS = {"namespace": NS, "cronjob": CJ, "severity": "warning"}

FAILED = {
    "exp_labels": {**LABELS, "job_name": f"{CJ}-2", "condition": "true"},
    "exp_annotations": {
        "summary": f"The last run of CronJob {NS}/{CJ} failed",
        "description": (
            f"Job {CJ}-2 of CronJob {NS}/{CJ} (cronjobs health-check) failed. Its logs: "
            f"cronctl logs {CJ} --job {CJ}-2 -n {NS} (or kubectl logs -n {NS} job/{CJ}-2); "
            f"its runs: cronctl history {CJ} -n {NS}"
        ),
    },
}
NO_SUCCESS = {
    "exp_labels": LABELS,
    "exp_annotations": {
        "summary": f"CronJob {NS}/{CJ} has not succeeded for 90m",
        "description": (
            f'No run of CronJob {NS}/{CJ} (schedule "*/30 * * * *", Etc/UTC) succeeded within '
            f"90m. Its runs: cronctl history {CJ} -n {NS}; start one now: "
            f"cronctl trigger {CJ} -n {NS}"
        ),
    },
}
SUSPENDED = {
    "exp_labels": LABELS,
    "exp_annotations": {
        "summary": f"CronJob {NS}/{CJ} has been suspended for more than 6h",
        "description": (
            f"Who suspended it and why: cronctl describe {CJ} -n {NS}. Resume it with: "
            f"cronctl resume {CJ} -n {NS} (or kubectl patch cronjob {CJ} -n {NS} "
            """-p '{"spec":{"suspend":false}}')"""
        ),
    },
}


def _case(name: str, series: list[dict[str, str]], *checks: tuple[str, str, list]) -> dict:
    return {
        "name": name,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": at, "alertname": alert, "exp_alerts": expected}
            for alert, at, expected in checks
        ],
    }


CASES = [
    _case(
        "the newest run failed: fires after failedFor; another CronJob's failure does not count",
        _job(f"{CJ}-1", 600, 0) + _job(f"{CJ}-2", 1200, 1)
        + _job("cronjobs-cleanup-redis-cache-1", 1800, 1, owner="cronjobs-cleanup-redis-cache"),
        ("CronJobLastRunFailed", "30s", []),
        ("CronJobLastRunFailed", "5m", [FAILED]),
    ),
    _case(
        "an older run failed, the newest succeeded: silent",
        _job(f"{CJ}-1", 600, 1) + _job(f"{CJ}-2", 1200, 0),
        ("CronJobLastRunFailed", "5m", []),
    ),
    _case(
        "last success at 0: silent within the 90m window, fires after it",
        _cronjob(),
        ("CronJobNoRecentSuccess", "80m", []),
        ("CronJobNoRecentSuccess", "100m", [NO_SUCCESS]),
    ),
    _case(
        "never succeeded: counted from creation",
        _cronjob(last_success=None),
        ("CronJobNoRecentSuccess", "80m", []),
        ("CronJobNoRecentSuccess", "100m", [NO_SUCCESS]),
    ),
    _case(
        "succeeds every minute: silent",
        _cronjob(last_success="0+60x400"),
        ("CronJobNoRecentSuccess", "100m", []),
    ),
    _case(
        "suspended: no success alert; the suspended alert fires after 6h",
        _cronjob(suspend="1x400"),
        ("CronJobNoRecentSuccess", "100m", []),
        ("CronJobSuspendedTooLong", "359m", []),
        ("CronJobSuspendedTooLong", "361m", [SUSPENDED]),
    ),
    _case(
        "not suspended: silent",
        _cronjob(suspend="0x400", last_success="0+60x400"),
        ("CronJobSuspendedTooLong", "361m", []),
    ),
]  # fmt: skip


def test_each_alert_fires_and_stays_silent(promtool: Path, rule_files: Path) -> None:
    tests = {"rule_files": ["health-check.yaml"], "evaluation_interval": "1m", "tests": CASES}
    (rule_files / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = _run(promtool, "test", "rules", "tests.yaml", cwd=rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def _cronctl_commands(text: str) -> list[list[str]]:
    """The `cronctl ...` commands in an alert's text, as argument lists: each runs to the end of
    its sentence or clause (".", ";", ",") or to a "(" aside."""
    tokens = text.replace("{{ $labels.job_name }}", "JOB").split()
    commands = []
    for i, token in enumerate(tokens):
        if token != "cronctl":
            continue
        command = []
        for arg in tokens[i + 1 :]:
            if arg.startswith("("):
                break
            command.append(arg.rstrip(".;,"))
            if arg != command[-1]:
                break
        commands.append(command)
    return commands


@pytest.mark.parametrize("args", [RULE_ARGS, KEEPER_ARGS], ids=["kube-state-metrics", "keeper"])
def test_every_cronctl_command_in_an_alert_parses_and_names_a_cronjob(
    render: Render, args: tuple[str, ...]
) -> None:
    """What an alert tells the operator to run is a valid cronctl command line (parsed by the
    real CLI) whose NAME is a CronJob the chart renders (not a job key)."""
    docs = render(*args)
    rules = by_kind(docs, "PrometheusRule")
    cronjobs = {d["metadata"]["name"] for d in by_kind(docs, "CronJob")}
    seen = set()
    for doc in rules:
        for rule in doc["spec"]["groups"][0]["rules"]:
            for command in _cronctl_commands(" ".join(rule["annotations"].values())):
                ctx = cronctl.make_context("cronctl", list(command))
                rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
                name, sub, args = cronctl.resolve_command(ctx, rest)
                assert sub is not None, command
                try:
                    params = sub.make_context(name, args, parent=ctx).params
                except click.UsageError as e:
                    pytest.fail(f"{rule['alert']}: `cronctl {' '.join(command)}`: {e}")
                names = params.get("names") or (params["name"],)
                assert set(names) <= cronjobs, f"{rule['alert']}: {command}"
                seen.add((rule["alert"], name))
    assert {alert for alert, _ in seen} == {
        "CronJobLastRunFailed",
        "CronJobNoRecentSuccess",
        "CronJobSuspendedTooLong",
    }
    assert ("CronJobSuspendedTooLong", "resume") in seen


# -- the same alerts from the keeper's series (jobs/cronjobs/keeper/metrics.py) ------------------


def _exprs(docs: list[dict[str, Any]]) -> str:
    return " ".join(
        rule["expr"]
        for doc in by_kind(docs, "PrometheusRule")
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
    )


def test_the_alerts_read_the_keepers_series_when_it_runs_and_is_scraped(render: Render) -> None:
    scraped = _exprs(render(*KEEPER_ARGS))
    assert "cronjobs_keeper_" in scraped and "kube_" not in scraped
    # The keeper on but nothing scraping it: kube-state-metrics, as before.
    unscraped = _exprs(render(*RULE_ARGS, "--set", "keeper.enabled=true"))
    assert "kube_cronjob_spec_suspend" in unscraped and "cronjobs_keeper_" not in unscraped
    # Chosen explicitly: the keeper scraped some other way; kube-state-metrics all the same.
    chosen = _exprs(render(*RULE_ARGS, "--set", "keeper.enabled=true", "--set", "metrics.prometheusRule.source=keeper"))  # fmt: skip
    assert "cronjobs_keeper_" in chosen and "kube_" not in chosen
    ksm = _exprs(render(*KEEPER_ARGS, "--set", "metrics.prometheusRule.source=kubeStateMetrics"))
    assert "cronjobs_keeper_" not in ksm
    [monitor] = by_kind(render(*KEEPER_ARGS), "ServiceMonitor")
    [service] = [s for s in by_kind(render(*KEEPER_ARGS), "Service") if s["metadata"]["name"].endswith("-keeper")]  # fmt: skip
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]  # fmt: skip


def test_the_keeper_as_source_without_the_keeper_is_refused(render_error: Any) -> None:
    message = render_error(*RULE_ARGS, "--set", "metrics.prometheusRule.source=keeper")
    assert "ERROR: metrics.prometheusRule.source is keeper but keeper.enabled is false" in message
    assert "source" in render_error(*RULE_ARGS, "--set", "metrics.prometheusRule.source=nothing")


@pytest.fixture(scope="module")
def keeper_rule_files(render: Render, tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = by_kind(render(*KEEPER_ARGS), "PrometheusRule")
    return _rule_files(docs, tmp_path_factory.mktemp("keeper-rules"))


def test_promtool_accepts_every_keeper_rule(promtool: Path, keeper_rule_files: Path) -> None:
    proc = _run(promtool, "check", "rules", "all.yaml", cwd=keeper_rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 17 rules found" in proc.stdout  # 3 per job, and the keeper's own 2


def _keeper(name: str, values: str, cronjob: str = CJ, pod: str = "keeper-a") -> dict[str, str]:
    """A keeper gauge as Prometheus scrapes it: the target's namespace and pod labels added."""
    return _series(f"cronjobs_keeper_{name}", values, cronjob=cronjob, pod=pod)


def _kept(*, suspended: str = "0x400", success: str | None = "0x400") -> list[dict[str, str]]:
    series = [_keeper("created_timestamp_seconds", "0x400"), _keeper("suspended", suspended)]
    if success is not None:
        series.append(_keeper("last_success_timestamp_seconds", success))
    return series


KEEPER_FAILED = {
    "exp_labels": {"namespace": NS, "cronjob": CJ, "severity": "warning"},
    "exp_annotations": {
        "summary": f"The last run of CronJob {NS}/{CJ} failed",
        "description": (
            f"The newest run of CronJob {NS}/{CJ} (cronjobs health-check) failed. Its runs, kept "
            f"by the keeper: cronctl history {CJ} -n {NS}; the newest run's logs, while its Job "
            f"exists: cronctl logs {CJ} -n {NS}"
        ),
    },
}

KEEPER_CASES = [
    _case(
        "the newest recorded run failed: fires after failedFor; another CronJob's does not count",
        [_keeper("last_run_failed", "1x400"),
         _keeper("last_run_failed", "1x400", cronjob="cronjobs-cleanup-redis-cache")],
        ("CronJobLastRunFailed", "30s", []),
        ("CronJobLastRunFailed", "5m", [KEEPER_FAILED]),
    ),
    _case(
        "the newest recorded run succeeded: silent",
        [_keeper("last_run_failed", "0x400")],
        ("CronJobLastRunFailed", "5m", []),
    ),
    _case(
        "two replicas (the new leader says failed, the old one's stale gauge not): one alert",
        [_keeper("last_run_failed", "1x400"), _keeper("last_run_failed", "0x400", pod="keeper-b")],
        ("CronJobLastRunFailed", "5m", [KEEPER_FAILED]),
    ),
    _case(
        "last success at 0: silent within the 90m window, fires after it",
        _kept(),
        ("CronJobNoRecentSuccess", "80m", []),
        ("CronJobNoRecentSuccess", "100m", [NO_SUCCESS]),
    ),
    _case(
        "never succeeded: counted from creation",
        _kept(success=None),
        ("CronJobNoRecentSuccess", "80m", []),
        ("CronJobNoRecentSuccess", "100m", [NO_SUCCESS]),
    ),
    _case(
        "succeeds every minute: silent",
        _kept(success="0+60x400"),
        ("CronJobNoRecentSuccess", "100m", []),
    ),
    _case(
        "suspended: no success alert; the suspended alert fires after 6h",
        _kept(suspended="1x400"),
        ("CronJobNoRecentSuccess", "100m", []),
        ("CronJobSuspendedTooLong", "359m", []),
        ("CronJobSuspendedTooLong", "361m", [SUSPENDED]),
    ),
    _case(
        "not suspended: silent",
        _kept(suspended="0x400", success="0+60x400"),
        ("CronJobSuspendedTooLong", "361m", []),
    ),
]  # fmt: skip


def test_each_keeper_alert_fires_and_stays_silent(promtool: Path, keeper_rule_files: Path) -> None:
    tests = {
        "rule_files": ["health-check.yaml"],
        "evaluation_interval": "1m",
        "tests": KEEPER_CASES,
    }
    (keeper_rule_files / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = _run(promtool, "test", "rules", "tests.yaml", cwd=keeper_rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


# -- the keeper's own alerts: down (no target scraped) and stalled (no pass completed) ----------

POD_LABELS = "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=cronjobs,app.kubernetes.io/component=keeper"  # fmt: skip
KEEPER_DOWN = {
    "exp_labels": {"namespace": NS, "job": KEEPER, "severity": "warning"},
    "exp_annotations": {
        "summary": f"The keeper {NS}/{KEEPER} is down",
        "description": (
            f"Prometheus has scraped no replica of the keeper (job {KEEPER} in namespace {NS}) "
            f"for 5m: every target is down, or none is found (no keeper pod: kubectl -n {NS} get "
            f"deploy/{KEEPER}; or your Prometheus does not select the ServiceMonitor {KEEPER}: "
            "metrics.serviceMonitor.labels). Meanwhile the CronJobs run on schedule, but no run "
            "is recorded, no policy enforced, no requested run started, and the CronJob alerts "
            f"that read the keeper's series stay silent. Its pods: kubectl -n {NS} get pods -l "
            f"{POD_LABELS}; why they stopped: kubectl -n {NS} describe deploy/{KEEPER} and "
            f"kubectl -n {NS} logs deploy/{KEEPER} (--previous after a restart)"
        ),
    },
}
KEEPER_STALLED = {
    "exp_labels": {"namespace": NS, "job": KEEPER, "severity": "warning"},
    "exp_annotations": {
        "summary": f"The keeper {NS}/{KEEPER} has completed no pass for 10m",
        "description": (
            f"The keeper (job {KEEPER} in namespace {NS}) is up, but none of its replicas "
            "completed a pass over the CronJobs for 10m: no run is recorded, no policy enforced, "
            "no requested run started. Which replica leads (HOLDER; none: no replica can take "
            f'the Lease): kubectl -n {NS} get lease {KEEPER}; its logs (a "pass failed" warning '
            f"names the API error): kubectl -n {NS} logs HOLDER, or kubectl -n {NS} logs "
            f"deploy/{KEEPER}. A restart is safe (the keeper repeats nothing): kubectl -n {NS} "
            f"rollout restart deploy/{KEEPER}"
        ),
    },
}


def _target(name: str, values: str, pod: str = "keeper-a", **labels: str) -> dict[str, str]:
    """A series of one of the keeper's scrape targets, labelled as its ServiceMonitor's are."""
    return _series(name, values, **{"job": KEEPER, "service": KEEPER, "pod": pod, **labels})


def _passes(values: str, pod: str = "keeper-a") -> list[dict[str, str]]:
    """A replica scraped (up 1) whose last completed pass is `values` (Unix time; promtool's
    clock starts at 0)."""
    return [
        _target("up", "1x400", pod=pod),
        _target("cronjobs_keeper_last_completed_pass_timestamp_seconds", values, pod=pod),
    ]


KEEPER_HEALTH_CASES = [
    _case(
        "every replica's target down: fires after downFor (5m)",
        [_target("up", "0x400"), _target("up", "0x400", pod="keeper-b")],
        ("CronJobsKeeperDown", "4m", []),
        ("CronJobsKeeperDown", "6m", [KEEPER_DOWN]),
    ),
    _case(
        "no target at all (no pod, or the ServiceMonitor not selected): fires after downFor; "
        "another job's and another namespace's keeper do not count",
        [_series("up", "1x400", job="other"),
         {"series": f'up{{namespace="elsewhere", job="{KEEPER}"}}', "values": "1x400"}],
        ("CronJobsKeeperDown", "4m", []),
        ("CronJobsKeeperDown", "6m", [KEEPER_DOWN]),
        ("CronJobsKeeperStalled", "30m", []),  # nothing scraped: down, not stalled
    ),
    _case(
        "one replica down, the other scraped: silent",
        [_target("up", "0x400"), *_passes("0+60x400", pod="keeper-b")],
        ("CronJobsKeeperDown", "10m", []),
    ),
    _case(
        "down for less than downFor, then back: silent",
        [_target("up", "1x2 0x3 1x400")],
        ("CronJobsKeeperDown", "4m", []),
        ("CronJobsKeeperDown", "10m", []),
    ),
    _case(
        "up, passing every minute: silent",
        _passes("0+60x400"),
        ("CronJobsKeeperDown", "60m", []),
        ("CronJobsKeeperStalled", "60m", []),
    ),
    _case(
        "up, last pass at 10m: stale after stalledAfter (10m) more, fires after stalledFor (5m)",
        _passes("0+60x10 600x390"),
        ("CronJobsKeeperStalled", "19m", []),
        ("CronJobsKeeperStalled", "24m", []),
        ("CronJobsKeeperStalled", "27m", [KEEPER_STALLED]),
        ("CronJobsKeeperDown", "27m", []),
    ),
    _case(
        "up but never a pass (0: no replica leads, or its informers never sync): fires",
        [*_passes("0x400"), *_passes("0x400", pod="keeper-b")],
        ("CronJobsKeeperStalled", "14m", []),
        ("CronJobsKeeperStalled", "17m", [KEEPER_STALLED]),
    ),
    _case(
        "the Lease changes hands: the old leader's gauge stays behind, the new one's moves: silent",
        [*_passes("0+60x10 600x390"), *_passes("0x14 900+60x385", pod="keeper-b")],
        ("CronJobsKeeperStalled", "27m", []),
        ("CronJobsKeeperStalled", "60m", []),
    ),
    _case(
        "another namespace's keeper stalled: silent",
        [{"series": f'cronjobs_keeper_last_completed_pass_timestamp_seconds{{namespace="elsewhere", job="{KEEPER}"}}',
          "values": "0x400"}, *_passes("0+60x400")],
        ("CronJobsKeeperStalled", "30m", []),
    ),
]  # fmt: skip


def test_each_keeper_health_alert_fires_and_stays_silent(
    promtool: Path, keeper_rule_files: Path
) -> None:
    tests = {
        "rule_files": ["keeper.yaml"],
        "evaluation_interval": "1m",
        "tests": KEEPER_HEALTH_CASES,
    }
    (keeper_rule_files / "keeper-tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = _run(promtool, "test", "rules", "keeper-tests.yaml", cwd=keeper_rule_files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def _keeper_alerts(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for doc in by_kind(docs, "PrometheusRule")
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
        if rule["alert"].startswith("CronJobsKeeper")
    }


def test_the_keepers_alerts_only_where_the_alerts_read_its_series(render: Render) -> None:
    rendered = render(*KEEPER_ARGS)
    assert set(_keeper_alerts(rendered)) == {"CronJobsKeeperDown", "CronJobsKeeperStalled"}
    [rule] = [d for d in by_kind(rendered, "PrometheusRule") if d["metadata"]["name"] == KEEPER]
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "keeper"
    # No keeper: nothing of it to alert on.
    assert _keeper_alerts(render(*RULE_ARGS)) == {}
    assert _keeper_alerts(render(*RULE_ARGS, "--set", "metrics.serviceMonitor.enabled=true")) == {}
    # The keeper on, but the alerts read kube-state-metrics: not scraped, so not alerted on.
    assert _keeper_alerts(render(*RULE_ARGS, "--set", "keeper.enabled=true")) == {}
    ksm = render(*KEEPER_ARGS, "--set", "metrics.prometheusRule.source=kubeStateMetrics")
    assert _keeper_alerts(ksm) == {}
    # No PrometheusRule at all.
    assert by_kind(render("--set", "keeper.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"), "PrometheusRule") == []  # fmt: skip


def test_the_keepers_alerts_select_its_targets_job(render: Render) -> None:
    """The ServiceMonitor's targets have `job` = the keeper Service's name (the Prometheus
    Operator's default without `jobLabel`) and `namespace` = the release's; scraped some
    other way (`source: keeper`), `keeper.scrapeJob` names the job."""
    docs = render(*KEEPER_ARGS)
    [monitor] = by_kind(docs, "ServiceMonitor")
    assert "jobLabel" not in monitor["spec"]
    [service] = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == KEEPER]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NS]
    target = f'{{namespace="{NS}", job="{service["metadata"]["name"]}"}}'
    for rule in _keeper_alerts(docs).values():
        assert target in rule["expr"]
    other = render(*RULE_ARGS, "--set", "keeper.enabled=true", "--set", "metrics.prometheusRule.source=keeper", "--set", "metrics.prometheusRule.keeper.scrapeJob=kubernetes-pods")  # fmt: skip
    down = _keeper_alerts(other)["CronJobsKeeperDown"]
    assert f'up{{namespace="{NS}", job="kubernetes-pods"}}' in down["expr"]
    assert 'Prometheus does not scrape it as job "kubernetes-pods"' in down["annotations"]["description"]  # fmt: skip


def test_the_keepers_thresholds_are_values(render: Render) -> None:
    docs = render(*KEEPER_ARGS, *(
        "--set", "metrics.prometheusRule.keeper.downFor=15m",
        "--set", "metrics.prometheusRule.keeper.stalledAfter=2h",
        "--set", "metrics.prometheusRule.keeper.stalledFor=10m",
        "--set", "metrics.prometheusRule.alertLabels.severity=critical",
    ))  # fmt: skip
    alerts = _keeper_alerts(docs)
    assert alerts["CronJobsKeeperDown"]["for"] == "15m"
    assert alerts["CronJobsKeeperStalled"]["for"] == "10m"
    assert alerts["CronJobsKeeperStalled"]["expr"].endswith(") > 7200")
    assert "for 2h" in alerts["CronJobsKeeperStalled"]["annotations"]["summary"]
    assert {a["labels"]["severity"] for a in alerts.values()} == {"critical"}


@pytest.mark.parametrize(
    "values, says",
    [
        (["keeper.interval=300", "metrics.prometheusRule.keeper.stalledAfter=15m"],
         "ERROR: metrics.prometheusRule.keeper.stalledAfter (15m) must be longer than 3 keeper "
         "intervals (3 x keeper.interval = 900s"),
        (["metrics.prometheusRule.keeper.stalledAfter=10 minutes"], "stalledAfter"),
        (["metrics.prometheusRule.keeper.downFor=soon"], "downFor"),
        (["metrics.prometheusRule.keeper.stalledFor=-1m"], "stalledFor"),
        (["metrics.prometheusRule.keeper.nap=1"], "nap"),
        (["jobs.keeper.subcommand=health-check", "jobs.keeper.schedule=0 * * * *"],
         "ERROR: jobs.keeper: its PrometheusRule would be named cronjobs-keeper, as the keeper's "
         "own alerts are: rename the job"),
    ],
)  # fmt: skip
def test_bad_keeper_alert_values_are_refused(
    render_error: Any, values: list[str], says: str
) -> None:
    args = [arg for value in values for arg in ("--set", value)]
    assert says in render_error(*KEEPER_ARGS, *args)


def test_the_keepers_runbook_commands_name_what_the_chart_renders(render: Render) -> None:
    """The kubectl commands in the keeper's alerts name its Deployment, its Lease (the one the
    keeper is told to elect on) and a selector of its pods."""
    import re

    docs = render(*KEEPER_ARGS)
    [deploy] = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == KEEPER]
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    lease = args[args.index("--lease") + 1]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    text = " ".join(
        " ".join(rule["annotations"].values()) for rule in _keeper_alerts(docs).values()
    )
    assert set(re.findall(r"deploy/([-a-z0-9]+)", text)) == {KEEPER}
    assert re.findall(r"get lease ([-a-z0-9]+)", text) == [lease]
    [selector] = re.findall(r"get pods -l (\S+);", text)
    assert dict(kv.split("=") for kv in selector.split(",")).items() <= pod_labels.items()
    assert set(re.findall(r"kubectl -n (\S+)", text)) == {NS}
