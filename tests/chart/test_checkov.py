"""The real checkov scanner (PyPI, 3.x, in its own venv) finds nothing in the rendered chart, k8s/
and the Dockerfile.

A finding that does not apply is skipped inline, each with its reason: `checkov.io/skipN:
CKV_K8S_xx=reason` annotations (the chart renders them only while the value that makes the check
moot holds: see "cronjobs.checkovSkips" in _helpers.tpl) or `# checkov:skip=CKV_DOCKER_x: reason`
in the Dockerfile. A new finding fails the test. The four scans run at once, one checkov process
per target (so graph checks never mix targets), offline (`--skip-download`, BC_SKIP_MAPPING).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import CHART, NAMESPACE, RELEASE, ROOT, run_helm

CHECKOV_VENV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


def checkov_binary() -> Path:
    found = os.environ.get("CHECKOV")
    if not found and CHECKOV_VENV.exists():
        found = str(CHECKOV_VENV)
    found = found or shutil.which("checkov")
    if not found:
        pytest.fail(
            f"checkov not found (set CHECKOV, or `make deps` installs it in {CHECKOV_VENV})"
        )
    return Path(found)


@pytest.fixture(scope="session")
def checkov_reports(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Target name → checkov's JSON report (a dict per framework, by check_type)."""
    checkov = checkov_binary()
    folder = tmp_path_factory.mktemp("checkov")
    for name, args in (("defaults", []), ("all-features", ["-f", str(CHART / "ci" / "all-features-values.yaml")])):  # fmt: skip
        proc = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", NAMESPACE, *args)
        assert proc.returncode == 0, proc.stderr
        (folder / f"{name}.yaml").write_text(proc.stdout)
    targets = {
        "defaults": ["-f", str(folder / "defaults.yaml"), "--framework", "kubernetes"],
        "all-features": ["-f", str(folder / "all-features.yaml"), "--framework", "kubernetes"],
        "k8s": ["-d", str(ROOT / "k8s"), "--framework", "kubernetes"],
        "Dockerfile": ["-f", str(ROOT / "Dockerfile"), "--framework", "dockerfile"],
    }
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    procs = {
        name: subprocess.Popen(
            [str(checkov), *args, "-o", "json", "--skip-download", "--compact"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folder,
        )
        for name, args in targets.items()
    }
    reports = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert out.strip(), f"checkov {name} printed nothing: {err[-2000:]}"
        parsed = json.loads(out)
        reports[name] = {
            r["check_type"]: r for r in (parsed if isinstance(parsed, list) else [parsed])
        }
    return reports


def scan(target: Path, cwd: Path) -> dict[str, Any]:
    """checkov's report on one rendered manifest file, by check_type (offline, compact)."""
    done = subprocess.run(
        [str(checkov_binary()), "-f", str(target), "--framework", "kubernetes", "-o", "json",
         "--skip-download", "--compact"],
        capture_output=True, text=True, timeout=300, cwd=cwd,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )  # fmt: skip
    assert done.stdout.strip(), f"checkov printed nothing: {done.stderr[-2000:]}"
    parsed = json.loads(done.stdout)
    return {r["check_type"]: r for r in (parsed if isinstance(parsed, list) else [parsed])}


def _failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for r in report.values()
        for c in r["results"]["failed_checks"]
    ]


@pytest.mark.parametrize(
    ("target", "framework", "resources"),
    [
        ("defaults", "kubernetes", 8),
        ("all-features", "kubernetes", 15),
        ("k8s", "kubernetes", 18),
        ("Dockerfile", "dockerfile", 1),
    ],
)
def test_checkov_finds_nothing(
    checkov_reports: dict[str, Any], target: str, framework: str, resources: int
) -> None:
    report = checkov_reports[target]
    assert set(report) == {framework}
    summary = report[framework]["summary"]
    assert summary["resource_count"] == resources, summary  # every object was scanned
    assert summary["parsing_errors"] == 0
    assert _failures(report) == []
    assert summary["failed"] == 0 and summary["passed"] > 0


def test_every_skip_has_a_reason(checkov_reports: dict[str, Any]) -> None:
    for target, report in checkov_reports.items():
        for r in report.values():
            for check in r["results"]["skipped_checks"]:
                reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
                assert len(reason) > 20, f"{target}: {check['check_id']} skipped without a reason"


def _results(report: dict[str, Any], kind: str, check_id: str) -> set[str]:
    (r,) = report.values()
    return {c["resource"].split(".")[0] for c in r["results"][kind] if c["check_id"] == check_id}


def test_skips_follow_the_values(checkov_reports: dict[str, Any]) -> None:
    """With image.digest and pullPolicy Always (all-features), the digest and pull-policy checks
    run and pass; with the defaults they are skipped, as the reasons say."""
    defaults, features = checkov_reports["defaults"], checkov_reports["all-features"]
    for check in ("CKV_K8S_43", "CKV_K8S_15"):
        assert _results(defaults, "skipped_checks", check) == {"CronJob"}
        assert _results(features, "skipped_checks", check) == set()
        assert _results(features, "passed_checks", check) == {"CronJob"}
    # The chart's objects name their namespace (no "default namespace" finding to skip).
    assert _results(defaults, "passed_checks", "CKV_K8S_21") >= {"CronJob", "Role", "Secret"}
