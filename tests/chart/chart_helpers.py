"""Helpers shared by the chart tests (see conftest.py for the fixtures)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cronjobs"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "cronjobs"
NAMESPACE = "maint"


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=60)


def parse_docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """A Role's rules as (apiGroup, resource, verb) triples."""
    return {
        (g, res, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for res in rule["resources"]
        for v in rule["verbs"]
    }


def cronjobs_by_component(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc
        for doc in by_kind(docs, "CronJob")
    }


Render = Callable[..., list[dict[str, Any]]]
