"""Rendering for the CLI: tables for people, JSON/YAML with a stable shape for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cronjobs.cronctl.model import CronJobInfo, Run
from cronjobs.cronctl.results import exit_meaning, summary_line


def printable(text: object) -> str:
    """`text` on one line, each control or invisible character escaped (`\\n`, `\\x1b`,
    `\\u2028`): what a user wrote into a CronJob (a suspend reason, a name) can neither start a
    new line in a log or a table nor send a terminal escape."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "   ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def dump(data: Any, output: str) -> str:
    if output == "yaml":
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False)).rstrip()
    return json.dumps(data, indent=2)


def span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(abs(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    delta = (now - when).total_seconds()
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(delta)}"


def until(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    return f"in {span((when - now).total_seconds())} ({stamp(when)})"


def next_column(info: CronJobInfo, now: datetime) -> str:
    """The next run, or why there is none: "never" when the controller will never start it."""
    if info.never_runs:
        return "never (will never run)"
    return "- (suspended)" if info.suspended else until(info.next_run, now)


def stamp(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if when else "-"


def suspended_for(info: CronJobInfo) -> str:
    if not info.suspended:
        return "no"
    expired = ", expired" if info.suspend_expired else ""
    if info.suspended_for_seconds is None:
        return f"yes{' (expired)' if expired else ''}"
    return f"yes ({span(info.suspended_for_seconds)}{expired})"


def streak(value: tuple[str, int] | None) -> str:
    """`3 failed`, `12 ok`, or `-` without finished runs."""
    if value is None:
        return "-"
    return f"{value[1]} {'ok' if value[0] == 'Succeeded' else 'failed'}"


def cronjobs_table(infos: Sequence[CronJobInfo], now: datetime, wide: bool, ns: bool) -> str:
    headers = [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPENDED",
        "ACTIVE",
        "LAST SCHEDULE",
        "LAST SUCCESS",
        "LAST RESULT",
        "LAST FAILURE",
        "STREAK",
        "MISSED",
        "NEXT RUN",
    ]
    if ns:
        headers.insert(0, "NAMESPACE")
    if wide:
        headers += ["TRIGGER", "CONCURRENCY", "LAST JOB", "RELEASE"]
    rows = []
    for i in infos:
        words = f" ({i.schedule_description})" if i.schedule_description else ""
        row = [
            i.name,
            i.schedule + words,
            i.time_zone or "UTC (default)",
            suspended_for(i),
            str(i.active),
            ago(i.last_schedule, now),
            ago(i.last_success, now),
            i.last_result or "-",
            ago(i.last_failure, now),
            streak(i.streak),
            "-" if i.missed is None else str(i.missed),
            next_column(i, now),
        ]
        if ns:
            row.insert(0, i.namespace)
        if wide:
            row += [
                i.last_trigger or "-",
                i.concurrency_policy,
                i.last_job or "-",
                i.helm_release or "-",
            ]
        rows.append(row)
    return table(headers, rows)


def runs_table(runs: Sequence[Run], now: datetime, wide: bool = False) -> str:
    headers = ["JOB", "TRIGGER", "STARTED", "DURATION", "RESULT"]
    if wide:
        headers += ["EXIT", "SUMMARY", "TRIGGERED BY", "MESSAGE"]
    rows = []
    for r in runs:
        row = [
            r.name,
            r.trigger,
            ago(r.started or r.created, now),
            span(r.duration_seconds),
            r.result,
        ]
        if wide:
            row += [
                "-" if r.exit_code is None else str(r.exit_code),
                summary_line(r.summary) or "-",
                (r.triggered_by or "-")
                + (f" ({' '.join(r.trigger_args)})" if r.trigger_args else ""),
                r.message or "-",
            ]
        rows.append(row)
    return table(headers, rows)


def failure_line(info: CronJobInfo, now: datetime) -> str:
    """`2h ago, web-x-1: BackoffLimitExceeded, exit 2 (USAGE: ...)` or `-`."""
    failed = next((r for r in info.runs if r.result == "Failed"), None)
    if failed is None:
        return ago(info.last_failure, now)
    text = f"{ago(failed.finished or failed.created, now)}, {failed.name}"
    if failed.reason:
        text += f": {failed.reason}"
    if failed.exit_code is not None:
        text += f", exit {failed.exit_code} ({exit_meaning(failed.exit_code)})"
    return text


def describe(info: CronJobInfo, now: datetime, runs: int = 10) -> str:
    suspended = "yes" if info.suspended else "no"
    if info.suspended and info.suspended_by:
        suspended += f" (by {printable(info.suspended_by)} at {printable(info.suspended_at)}"
        suspended += f": {printable(info.suspend_reason)})" if info.suspend_reason else ")"
    if info.suspended and info.suspended_until:
        state = "expired at" if info.suspend_expired else "until"
        suspended += f", {state} {stamp(info.suspended_until)}"
    if info.maintenance:
        suspended += f", suspend run {info.maintenance}"
    fields = [
        ("Name", info.name),
        ("Namespace", info.namespace),
        ("Schedule", f"{info.schedule} ({info.schedule_description or 'unreadable'})"),
        ("Time zone", info.time_zone or "UTC (controller default)"),
        ("Suspended", suspended),
        ("Concurrency policy", info.concurrency_policy),
        (
            "Starting deadline",
            f"{info.starting_deadline_seconds}s"
            if info.starting_deadline_seconds is not None
            else "none",
        ),
        ("Active runs", str(info.active)),
        (
            "Last schedule",
            f"{ago(info.last_schedule, now)} ({stamp(info.last_schedule)})"
            if info.last_schedule
            else "-",
        ),
        (
            "Last success",
            f"{ago(info.last_success, now)} ({stamp(info.last_success)})"
            if info.last_success
            else "-",
        ),
        ("Last result", f"{info.last_result} ({info.last_job})" if info.last_result else "-"),
        ("Last failure", failure_line(info, now)),
        ("Streak", streak(info.streak)),
        ("Missed (24h)", "-" if info.missed is None else str(info.missed)),
        ("Next run", next_column(info, now) + (f": {info.never_runs}" if info.never_runs else "")),
        ("Helm release", info.helm_release or "-"),
    ]
    width = max(len(k) for k, _ in fields) + 1
    text = "\n".join(f"{k + ':':<{width}} {v}" for k, v in fields)
    shown = info.runs[:runs]
    text += f"\n\nRecent runs ({len(shown)} of {len(info.runs)}):\n"
    text += runs_table(shown, now) if shown else "  none"
    if info.changes:
        text += "\n\nChanges (suspend/resume, oldest first):\n"
        text += "\n".join(f"  {change_line(c)}" for c in info.changes)
    if info.problems:
        text += "\n\nProblems (what cronctl could not read):\n"
        text += "\n".join(f"  {printable(p)}" for p in info.problems)
    results = [(r.name, summary_line(r.summary)) for r in shown if r.summary]
    if results:
        text += "\n\nRun results (from the termination message):\n"
        text += "\n".join(f"  {name}: {line}" for name, line in results)
    return text


def change_line(entry: dict[str, Any]) -> str:
    """`2026-12-01T17:50:05Z suspend by alice: db upgrade (until ..., run m-...)`."""
    text = f"{entry.get('at', '?')} {entry.get('action', '?')} by {entry.get('by', '?')}"
    if entry.get("reason"):
        text += f": {entry['reason']}"
    text = printable(text)
    extra = [f"until {entry['until']}"] if entry.get("until") else []
    extra += [f"run {entry['run']}"] if entry.get("run") else []
    extra += [f"catch-up {entry['catch_up']}"] if entry.get("catch_up") else []
    return text + (f" ({', '.join(extra)})" if extra else "")
