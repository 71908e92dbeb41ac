"""`--image` on `import-apscheduler` and `chart-values`: the app's jobs render with the app's
image (which holds the functions), the built-ins with the chart's; the values pass the real
`helm template` and the Kubernetes schemas; a malformed reference is exit 2 and prints nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.jobs.helpers import REPO
from tests.jobs.test_registry import GOOD, app_module, cronjobs_at

APP = REPO / "examples" / "app"
IMAGE = "registry.example.com:5000/team/app:2.3.1"


def rendered_cronjobs(helm: Path, values: Path) -> dict[str, dict[str, Any]]:
    out = subprocess.run(
        [str(helm), "template", "maint", str(REPO / "charts" / "cronjobs"), "-f", str(values)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "CronJob"
    }


def image_of(cronjob: dict[str, Any]) -> str:
    return str(cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"])


def test_imported_jobs_render_with_the_apps_image(tmp_path: Path, helm_bin: Path) -> None:
    result = cronjobs_at(
        APP, "import-apscheduler", "main.py", "--image", IMAGE, env={"CRONJOBS_JOB_MODULES": ""}
    )
    assert result.returncode == 0, result.stderr
    values = yaml.safe_load(result.stdout)
    assert {k: v["image"] for k, v in values["jobs"].items()} == {
        k: {"repository": "registry.example.com:5000/team/app", "tag": "2.3.1"}
        for k in ("purge-expired-tokens", "refresh-search-index", "send-weekly-digest")
    }
    assert "&id" not in result.stdout  # one mapping per job, not YAML anchors
    (tmp_path / "values.yaml").write_text(result.stdout)
    cronjobs = rendered_cronjobs(helm_bin, tmp_path / "values.yaml")
    assert image_of(cronjobs["send-weekly-digest"]) == IMAGE
    assert image_of(cronjobs["cleanup-old-sessions"]) == "cronjobs:0.1.0"


def test_chart_values_puts_the_image_on_the_apps_jobs_only(tmp_path: Path, helm_bin: Path) -> None:
    digest = "sha256:" + "ab" * 32
    result = cronjobs_at(app_module(tmp_path, GOOD), "chart-values", "--image", f"app@{digest}")
    assert result.returncode == 0, result.stderr
    jobs = yaml.safe_load(result.stdout)["jobs"]
    assert (
        jobs["tidy"]["image"]
        == jobs["fail-loudly"]["image"]
        == {
            "repository": "app",
            "digest": digest,
        }
    )
    assert "image" not in jobs["health-check"]
    (tmp_path / "values.yaml").write_text(result.stdout)
    rendered = image_of(rendered_cronjobs(helm_bin, tmp_path / "values.yaml")["tidy"])
    assert rendered.startswith("app:") and rendered.endswith(f"@{digest}")  # pulled by digest


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("Registry/App:1", "is not an image reference"),
        ("app:", "is not an image reference"),
        ("app:-bad", "'-bad' is not an image tag"),
        ("app@sha256:abc", "'sha256:abc' is not an image digest"),
        ("", "is not an image reference"),
    ],
)
def test_a_malformed_reference_is_a_usage_error(tmp_path: Path, reference: str, says: str) -> None:
    for command in (("chart-values",), ("import-apscheduler", str(APP / "main.py"))):
        result = cronjobs_at(app_module(tmp_path, GOOD), *command, "--image", reference)
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and "Invalid value for '--image'" in result.stderr
        assert result.stdout == ""
