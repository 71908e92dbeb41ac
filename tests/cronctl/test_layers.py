"""cronctl's modules depend one way: no import cycle among cronjobs.cronctl and cronjobs.web
(function-level imports included), the helpers never import the controller that uses them, and
only the CLI imports the CLI's render modules. Read from the source with `ast`, not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

from cronjobs.cronctl.errors import WaitTimeout
from cronjobs.cronctl.poll import poll_until

PACKAGE = Path(__file__).resolve().parents[2] / "jobs" / "cronjobs"
HELPERS = ("backfill", "claim", "diagnose", "follow", "suspension", "trigger", "runs", "scope")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for d in ("cronctl", "web") for p in (PACKAGE / d).glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                # `from cronjobs.cronctl import model` needs model, not the package's __init__
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in files else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_in_cronctl_or_web() -> None:
    graph = _graph()
    assert "cronjobs.cronctl.controller" in graph and "cronjobs.web.router" in graph
    assert _cycle(graph) is None


def test_helpers_take_a_scope_not_the_controller() -> None:
    graph = _graph()
    for helper in HELPERS:
        assert "cronjobs.cronctl.controller" not in graph[f"cronjobs.cronctl.{helper}"], helper


def test_only_the_cli_imports_the_cli_render_modules() -> None:
    render = {"cronjobs.cronctl.render", "cronjobs.cronctl.render_why"}
    users = {name for name, deps in _graph().items() if deps & render}
    assert users and all(
        u.startswith(("cronjobs.cronctl.cli", "cronjobs.cronctl.render")) for u in users
    ), users


def test_poll_until_returns_the_probes_answer_or_times_out_with_its_message() -> None:
    seen: list[float] = []

    def probe(deadline: float) -> str | None:
        seen.append(deadline)
        return "done" if len(seen) == 3 else None

    assert poll_until(probe, timeout=60, interval=0, gave_up=lambda: "never") == "done"
    assert len(seen) == 3 and len(set(seen)) == 1  # one deadline for the whole wait
    try:
        poll_until(lambda _d: None, timeout=0, interval=0, gave_up=lambda: "gave up: still running")
    except WaitTimeout as e:
        assert str(e) == "gave up: still running" and e.exit_code == 5
    else:
        raise AssertionError("no WaitTimeout")
