"""The README and the docs it points to stay true: the commands they show run, and their output
and tables match the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronjobs.builtin import catalogue
from cronjobs.exitcodes import ExitCode
from cronjobs.settings import ENV

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in sorted((REPO / "docs").glob("*.md"))}


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "QDRANT_", "CRONJOBS_", "KUBECONFIG"))
    }
    env["COLUMNS"] = "100"
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def console_blocks() -> dict[str, str]:
    """`$ command` -> the output printed under it, for every ```console block of the README
    and docs/."""
    found = {}
    for block in re.findall(r"```console\n(.*?)```", "\n".join([README, *DOCS.values()]), re.S):
        lines = block.splitlines()
        if len(lines) > 1 and lines[0].startswith("$ ") and not lines[1].startswith("$ "):
            found[lines[0][2:]] = "\n".join(lines[1:]) + "\n"
    return found


def table_rows(heading: str, text: str = README) -> list[list[str]]:
    """The body rows of the first table under a `#`/`##` heading of `text` (the README)."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"(?:^\|.+\|\n)+", section, re.M)
    assert block is not None, f"no table under {heading}"
    rows = block.group(0).splitlines()[2:]
    return [[c.strip().strip("`") for c in row.strip("|").split("|")] for row in rows]


@pytest.mark.parametrize(
    ("shown", "module_args"),
    [
        ("cronjobs --help", ("cronjobs", "--help")),
        ("cronjobs list", ("cronjobs", "list")),
        ("cronctl --help", ("cronjobs.cronctl", "--help")),
    ],
)
def test_documented_output_matches(shown: str, module_args: tuple[str, ...]) -> None:
    blocks = console_blocks()
    assert shown in blocks, f"neither the README nor docs/ show the output of `{shown}`"
    result = run(*module_args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == blocks[shown]


def demo_shown() -> str:
    shown = re.search(r"```text\n(== seed.*?)```", README, re.S)
    assert shown is not None
    return shown.group(1)


def shape(text: str) -> list[str]:
    """The lines, with the numbers that vary blanked out (words, plurals and order stay)."""
    no_paths = re.sub(r"\S*/\S*", "PATH", text.strip())
    return [re.sub(r"[\d.:T+-]+", "#", line) for line in no_paths.splitlines()]


def test_quick_start_demo_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    assert "$ make demo" in README and "$ make test" in README
    assert "cronjobs demo" in (REPO / "Makefile").read_text()
    assert "make test" in (REPO / ".ci" / "run").read_text()
    result = run(
        "cronjobs", "demo", "--dir", str(tmp_path), "--sessions", "300", "--events", "3000"
    )
    assert result.returncode == 0, result.stderr
    assert shape(result.stdout)[: len(shape(demo_shown()))] == shape(demo_shown())


def test_the_demo_prints_the_same_figures_at_every_hour_of_a_day(tmp_path: Path) -> None:
    """The check above runs at whatever time it is: the demo, run with its clock at each hour
    of a day (run_demo's `now`), prints what the README shows, with the same figures every
    hour (only the cutoff's time of day and the health check's timings differ). It used to
    print "1 event type" for yesterday from about 09:40 to 15:40 UTC."""
    from cronjobs.dev.demo import prepare_dir, run_demo

    figures = set()
    for hour in range(24):
        now = datetime(2026, 6, 15, hour, 23, 45, 123456, tzinfo=UTC)
        outcome = run_demo(
            prepare_dir(str(tmp_path / f"{hour:02}")), sessions=300, events=3000,
            redis_url=None, now=now,
        )  # fmt: skip
        printed = "\n".join(outcome.lines())
        assert outcome.exit_code == 0, printed
        assert shape(printed)[: len(shape(demo_shown()))] == shape(demo_shown()), f"{hour:02}h"
        assert f"cutoff: {(now - timedelta(days=90)).isoformat()} (older than 90 days)" in printed
        timeless = re.sub(r"(cutoff: \S+|[\d.]+ ms|PATH|/\S+)", "", printed)
        figures.add(timeless)
    assert len(figures) == 1, "the demo's figures change with the hour"


def test_jobs_table_is_the_catalogue() -> None:
    rows = table_rows("## The jobs")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (j.command, j.id, j.schedule) for j in catalogue.JOBS
    ]


def test_exit_code_table_is_the_enum() -> None:
    rows = table_rows("## Exit codes")
    assert [int(r[0]) for r in rows] == [int(c) for c in ExitCode]


def test_configuration_table_names_every_variable() -> None:
    documented = {r[0] for r in table_rows("# Configuration", DOCS["configuration.md"])}
    assert set(ENV.values()) <= documented
    assert {"CRONJOBS_BATCH_SIZE", "CRONJOBS_LOG_FORMAT", "CRONJOBS_LOG_LEVEL"} <= documented


def test_flags_table_names_real_flags() -> None:
    import click

    from cronjobs.cli import cli

    table = DOCS["jobs.md"].split("Each job's own flags", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| `([a-z-]+)` \| (.+) \|$", table, re.M)
    assert [r[0] for r in rows] == [j.command for j in catalogue.JOBS]
    for command, flags in rows:
        made = cli.get_command(click.Context(cli), command)
        assert made is not None
        known = {o for p in made.params for o in (*p.opts, *p.secondary_opts)}
        for flag in re.findall(r"`(--[a-z-]+)", flags):
            assert flag in known, f"docs/jobs.md lists {flag} for {command}"
