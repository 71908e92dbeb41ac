"""Rendering of `explain`, `next` and `check` for people (JSON comes from their to_dict)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl.diagnose import Explanation, Health, Upcoming
from cronjobs.cronctl.display import ago, ledger_note, origin, printable, stamp
from cronjobs.cronctl.model import CronJobInfo
from cronjobs.cronctl.render import table
from cronjobs.cronctl.results import exit_meaning, summary_line
from cronjobs.cronctl.ticks import REASONS

ROUTINE = {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete", "Completed", "UnexpectedJob"}
"""Events that report normal work, counted rather than listed. `UnexpectedJob` is a Warning the
CronJob controller repeats for every Job it did not create itself: every manual run (cronctl's
and kubectl's), so expected here."""
DST_NOTES = {
    "skipped": "skipped: this time does not exist that day (clocks spring forward)",
    "repeated": "repeated: clocks fall back and this time happens twice; it runs on both",
    "shifted": "after a DST change: the UTC time moved by the change",
    "dropped": "not run: after this 30-minute DST change the controller's cron library "
    "(robfig/cron) steps past this time",
    "extra": "extra run: after this 30-minute DST change the controller's cron library "
    "(robfig/cron) also runs at this time",
}


def upcoming(result: Upcoming) -> str:
    info = result.info
    tz_name = info.time_zone or sched.DEFAULT_TIME_ZONE
    head = f"CronJob {info.name}: {info.schedule}"
    head += f" ({info.schedule_description})" if info.schedule_description else ""
    if info.never_runs:
        return head + f" in {tz_name}\nIt will never run: {info.never_runs}."
    tz = sched.zone(info.time_zone)
    rows = []
    for s in result.slots:
        local = s.wall.strftime("%Y-%m-%d %H:%M")
        if s.at is not None:
            local += " " + s.at.astimezone(tz).strftime("%z")
        rows.append([local, stamp(s.at), DST_NOTES.get(s.dst or "", "")])
    return head + f" in {tz_name}\n" + table([f"LOCAL ({tz_name})", "UTC", "NOTE"], rows)


def _ranges(items: Sequence[tuple[datetime, str, str]]) -> list[list[str]]:
    """Consecutive missed ticks with the same reason and detail, as one row."""
    rows = []
    for (reason, detail), group in itertools.groupby(items, key=lambda i: (i[1], i[2])):
        ticks = [t for t, _, _ in group]
        when = stamp(ticks[0]) if len(ticks) == 1 else f"{stamp(ticks[0])} .. {stamp(ticks[-1])}"
        rows.append([when, str(len(ticks)), reason, printable(detail)])
    return rows


def explanation(e: Explanation, now: datetime) -> str:
    info, counts = e.info, e.counts
    lines = [
        f"CronJob {info.namespace}/{info.name}: {info.schedule}"
        + (f" ({info.schedule_description})" if info.schedule_description else "")
        + f" in {info.time_zone or 'UTC (default)'}",
        f"Window: since {stamp(e.since)} ({ago(e.since, now)}): {len(e.verdicts)} ticks, "
        f"{counts['ran']} ran, {counts['late']} late, {counts['missed']} missed, "
        + (f"{counts['skipped']} skipped while suspended, " if counts["skipped"] else "")
        + f"{counts['unknown']} unknown"
        + (" (older than the Jobs and Events the cluster keeps)" if counts["unknown"] else ""),
    ]
    missed = [(v.at, v.reason or "", v.detail or "") for v in e.verdicts if v.outcome == "missed"]
    if missed:
        lines += ["", "Missed ticks:"]
        rows = _ranges(missed)
        lines.append(table(["TICK (UTC)", "COUNT", "REASON", "DETAIL"], rows))
        used = sorted({reason for _, reason, _ in missed})
        lines += [f"  {r}: {REASONS[r]}" for r in used if r in REASONS]
    skipped = [(v.at, "", v.detail or "") for v in e.verdicts if v.outcome == "skipped"]
    if skipped:
        lines += ["", "Skipped while suspended (the controller starts nothing meanwhile):"]
        rows = [[when, count, detail] for when, count, _, detail in _ranges(skipped)]
        lines.append(table(["TICK (UTC)", "COUNT", "DETAIL"], rows))
    late = [v for v in e.verdicts if v.outcome == "late"]
    if late:
        lines += ["", f"Late starts: {len(late)} (newest: {late[-1].job}, {late[-1].detail})"]
    f = e.last_failure
    if f is not None:
        where = f" ({origin(f)})" if origin(f) else ""
        lines += ["", f"Last failure: {f.name}, {ago(f.finished or f.created, now)}{where}"]
        if f.reason or f.message:
            lines.append(f"  Reason: {f.reason or '-'}" + (f" ({f.message})" if f.message else ""))
        if f.exit_code is not None:
            lines.append(f"  Exit code: {f.exit_code} ({exit_meaning(f.exit_code)})")
        if f.summary:
            lines.append(f"  Result: {summary_line(f.summary)}")
        elif f.termination_message:
            lines.append(f"  Termination message: {f.termination_message.splitlines()[-1]}")
        if f.log_tail and origin(f):
            lines.append(f"  Log (its last {len(f.log_tail)} lines, as the keeper kept them):")
            lines += [f"    {printable(line)}" for line in f.log_tail]
    if streak_line(info):
        lines += ["", streak_line(info)]
    if ledger_note(info):
        lines += ["", f"Note: {ledger_note(info)}."]
    shown = [ev for ev in e.events if ev.reason not in ROUTINE]
    hidden = len(e.events) - len(shown)
    lines += ["", "Events (the API server keeps them about an hour):"]
    if shown:
        rows = [
            [ago(ev.at, now), ev.type, ev.reason, f"{ev.kind}/{ev.name}", ev.message]
            for ev in shown
        ]
        lines.append(table(["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"], rows))
    else:
        lines.append("  none")
    if hidden:
        lines.append(
            f"  ({hidden} routine: created, completed, deleted, manual runs the controller did "
            "not create; -o json lists them)"
        )
    lines += ["", f"What to do: {e.advice}"]
    return "\n".join(lines)


def streak_line(info: CronJobInfo) -> str:
    """`Streak: the last 3 runs failed`, or "" without finished runs."""
    if info.streak is None:
        return ""
    result, n = info.streak
    word = "succeeded" if result == "Succeeded" else "failed"
    return f"Streak: the last {n} runs {word}" if n > 1 else f"Streak: the last run {word}"


def health(checked: Sequence[Health]) -> str:
    problems = [p for h in checked for p in h.problems]
    if not problems:
        return f"OK: {len(checked)} CronJob(s) healthy"
    return "\n".join(problems)
