"""charts/cronjobs/README.md documents every value: its table is generated from values.yaml."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest
import yaml
from chart_helpers import CHART, ROOT

SCRIPT = ROOT / "charts" / "values_table.py"


@pytest.fixture(scope="module")
def values_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("values_table", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_values_table_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_every_value_is_documented(values_table: ModuleType) -> None:
    text = (CHART / "values.yaml").read_text()
    docs = values_table.parse_docs(text)
    assert values_table.undocumented(yaml.safe_load(text), docs) == []
    readme = (CHART / "README.md").read_text()
    for path in (
        "jobs.health-check.schedule",
        "jobDefaults.timeZone",
        "controller.rbac.allowRemove",
        "connection.existingSecret",
        "metrics.prometheusRule.enabled",
        "networkPolicy.enabled",
    ):
        assert f"| `{path}` |" in readme


def test_an_undocumented_key_is_caught(values_table: ModuleType) -> None:
    text = (
        (CHART / "values.yaml")
        .read_text()
        .replace("  # -- Image tag; defaults to the chart's appVersion.", "  #")
    )
    docs = values_table.parse_docs(text)
    assert values_table.undocumented(yaml.safe_load(text), docs) == ["image.tag"]


def test_table_shows_defaults_and_descriptions(values_table: ModuleType) -> None:
    readme = (CHART / "README.md").read_text()
    assert (
        '| `jobDefaults.concurrencyPolicy` | string | `"Forbid"` | What to do when a run' in readme
    )
    assert "| `jobs.health-check.activeDeadlineSeconds` | int | `600` |" in readme
