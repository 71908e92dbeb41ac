"""Rendering for the CLI: tables for people, JSON/YAML with a stable shape for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cronjobs.cronctl.display import (
    ago,
    failure_line,
    ledger_note,
    next_column,
    origin,
    printable,
    span,
    stamp,
    streak,
    suspended_for,
)
from cronjobs.cronctl.model import CronJobInfo, Run
from cronjobs.cronctl.results import summary_line


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
    """A row per run; when one of them is known only from the keeper's ledger (its Job is
    gone), a FROM column says which (`job` or `ledger`)."""
    headers = ["JOB", "TRIGGER", "STARTED", "DURATION", "RESULT"]
    sources = any(origin(r) for r in runs)
    if sources:
        headers.append("FROM")
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
        if sources:
            row.append(r.source)
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
    if any(origin(r) for r in shown):
        text += "\n  (FROM ledger: the keeper's ledger remembers the run; its Job is gone)"
    if ledger_note(info):
        text += f"\n  ({ledger_note(info)})"
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
