"""Fixtures for the chart tests: renders of charts/cronjobs by the real helm binary.

`helm template` takes ~0.1 s, so each render is done once per session and shared. Plain helpers
live in chart_helpers.py (importable from the test modules: this folder is put on sys.path, as
pytest's importlib import mode does not do it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chart_helpers import CHART, CI_VALUES, NAMESPACE, RELEASE, Render, parse_docs, run_helm


@pytest.fixture(scope="session")
def render(helm_bin: Path) -> Render:
    """`render(*helm_args, release=...)` → the parsed documents; fails the test if helm fails."""

    def _render(*args: str, release: str = RELEASE) -> list[dict[str, Any]]:
        proc = run_helm(helm_bin, "template", release, str(CHART), "-n", NAMESPACE, *args)
        assert proc.returncode == 0, proc.stderr
        docs = parse_docs(proc.stdout)
        assert docs, f"helm template {' '.join(args)} rendered nothing"
        return docs

    return _render


@pytest.fixture(scope="session")
def render_error(helm_bin: Path) -> Callable[..., str]:
    """`render_error(*helm_args)` → helm's stderr; fails the test if helm succeeds."""

    def _render_error(*args: str, release: str = RELEASE) -> str:
        proc = run_helm(helm_bin, "template", release, str(CHART), "-n", NAMESPACE, *args)
        assert proc.returncode != 0, f"helm accepted {args}:\n{proc.stdout[:2000]}"
        return " ".join(proc.stderr.split())  # one line: messages are asserted as substrings

    return _render_error


@pytest.fixture(scope="session")
def default_docs(render: Render) -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="session")
def ci_docs(render: Render) -> dict[str, list[dict[str, Any]]]:
    """Renders of every values file in charts/cronjobs/ci/, by file stem."""
    return {path.stem: render("-f", str(path)) for path in CI_VALUES}


@pytest.fixture(scope="session")
def all_renders(
    default_docs: list[dict[str, Any]], ci_docs: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    return {"defaults": default_docs, **ci_docs}
