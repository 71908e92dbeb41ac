"""One CronJob's page: its fields, explain's answer, its runs with their results, the log tail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cronjobs.cronctl.diagnose import Explanation
from cronjobs.cronctl.display import (
    ago,
    failure_line,
    ledger_note,
    origin,
    printable,
    span,
    stamp,
    streak,
)
from cronjobs.cronctl.model import CronJobInfo
from cronjobs.cronctl.results import exit_meaning, summary_line
from cronjobs.cronctl.ticks import REASONS
from cronjobs.web.page import (
    actions,
    badge,
    e,
    next_cell,
    problems,
    schedule_cell,
    suspended_cell,
    table,
    when,
)

EVENTS_SHOWN = 10


def fields(info: CronJobInfo, now: datetime) -> str:
    rows = [
        ("Schedule", schedule_cell(info)),
        ("Time zone", e(info.time_zone or "UTC (controller default)")),
        ("Suspended", suspended_cell(info)),
        ("Next run", next_cell(info, now) + (f" {e(info.never_runs)}" if info.never_runs else "")),
        (
            "Last result",
            badge(info.last_result) + (f" {e(info.last_job)}" if info.last_job else ""),
        ),
        ("Last success", when(info.last_success, ago(info.last_success, now))),
        ("Last failure", e(failure_line(info, now))),
        ("Failure streak", e(streak(info.streak))),
        ("Missed (24h)", e("-" if info.missed is None else info.missed)),
        ("Active runs", e(info.active)),
        ("Concurrency policy", e(info.concurrency_policy)),
        (
            "Starting deadline",
            e(
                "none"
                if info.starting_deadline_seconds is None
                else f"{info.starting_deadline_seconds}s"
            ),
        ),
        ("Helm release", e(info.helm_release or "-")),
    ]
    items = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in rows)
    return f'<dl class="fields">{items}</dl>' + problems(info)


def explanation(x: Explanation, now: datetime) -> str:
    counts = x.counts
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    html = (
        f'<section aria-labelledby="why"><h2 id="why">Why: explain</h2>'
        f'<p class="advice"><strong>{e(x.advice)}</strong></p>'
        f"<p>Ticks since {e(stamp(x.since))}: {e(summary)}.</p>"
    )
    missed = [v for v in x.verdicts if v.outcome == "missed"]
    if missed:
        rows = [
            [
                when(v.at, stamp(v.at)),
                e(REASONS.get(v.reason or "", v.reason or "-")),
                e(printable(v.detail or "")),
            ]
            for v in reversed(missed[-20:])
        ]
        html += table(
            f"Missed ticks ({len(missed)}, newest first)",
            ["Tick", "Why", "Detail"],
            rows,
            "ticks",
        )
    if x.last_failure is not None:
        run = x.last_failure
        text = f"{run.name}: {run.reason or 'failed'}"
        if run.exit_code is not None:
            text += f", exit {run.exit_code} ({exit_meaning(run.exit_code)})"
        if origin(run):
            text += f" ({origin(run)})"
        line = summary_line(run.summary)
        html += f"<p>Last failure: {e(text)}" + (f" — {e(line)}" if line else "") + "</p>"
        if run.log_tail and origin(run):
            html += (
                f"<p>Its log's last {len(run.log_tail)} lines, as the keeper kept them:</p>"
                f'<pre tabindex="0" aria-label="Log tail of {e(run.name)}">'
                f"{e(chr(10).join(run.log_tail))}</pre>"
            )
    if x.events:
        rows = [
            [
                when(ev.at, ago(ev.at, now)),
                e(ev.type),
                e(ev.reason),
                e(f"{ev.kind}/{ev.name}"),
                e(ev.message),
            ]
            for ev in list(reversed(x.events))[:EVENTS_SHOWN]
        ]
        html += table(
            "Events (newest first)", ["When", "Type", "Reason", "Object", "Message"], rows, "events"
        )
    return html + "</section>"


def runs(info: CronJobInfo, now: datetime) -> str:
    if not info.runs:
        note = f" {ledger_note(info)}." if ledger_note(info) else ""
        return (
            '<section aria-labelledby="runs"><h2 id="runs">Runs</h2><p class="muted">No runs '
            f"(or they were cleaned up).{e(note)}</p></section>"
        )
    rows = [
        [
            e(r.name),
            e(r.trigger),
            when(r.started or r.created, ago(r.started or r.created, now)),
            e(span(r.duration_seconds)),
            badge(r.result),
            e("-" if r.exit_code is None else f"{r.exit_code} ({exit_meaning(r.exit_code)})"),
            e(summary_line(r.summary) or r.message or "-"),
            e(r.triggered_by or "-"),
        ]
        for r in info.runs
    ]
    headers = ["Job", "Trigger", "Started", "Duration", "Result", "Exit", "Summary", "By"]
    note = ""
    if any(origin(r) for r in info.runs):  # say which runs only the ledger remembers
        headers.append("From")
        for row, r in zip(rows, info.runs, strict=True):
            row.append(e("ledger (Job gone)" if origin(r) else "job"))
        note += '<p class="muted">"ledger": the keeper\'s ledger remembers the run; its Job is gone.</p>'
    if ledger_note(info):
        note += f'<p class="muted">{e(ledger_note(info))}.</p>'
    return (
        '<section aria-labelledby="runs"><h2 id="runs">Runs</h2>'
        + table(f"{len(info.runs)} run(s), newest first", headers, rows, "runs")
        + note
        + "</section>"
    )


def log_tail(logs: dict[str, Any] | None, problem: str | None) -> str:
    head = '<section aria-labelledby="logs"><h2 id="logs">Log tail</h2>'
    if logs is None:
        return head + f'<p class="muted">{e(problem or "No log.")}</p></section>'
    lines, pod, text = logs["lines"], None, []
    for item in lines:
        if item["pod"] != pod:
            pod = item["pod"]
            text.append(f"--- pod {pod}")
        text.append(item["line"])
    cut = f"last {len(lines)} lines" if logs["truncated"] else f"{len(lines)} lines"
    return (
        head
        + f"<p>Job {e(logs['job'])} ({cut}).</p>"
        + f'<pre tabindex="0" aria-label="Log of {e(logs["job"])}">{e(chr(10).join(text))}</pre>'
        + "</section>"
    )


def detail(
    x: Explanation,
    logs: dict[str, Any] | None,
    log_problem: str | None,
    now: datetime,
    read_only: bool,
) -> str:
    info = x.info
    return (
        f'<div class="job-head"><h2>{e(info.name)} <span class="muted">in {e(info.namespace)}'
        f"</span></h2>{actions(info, read_only)}</div>"
        + fields(info, now)
        + explanation(x, now)
        + runs(info, now)
        + log_tail(logs, log_problem)
    )
