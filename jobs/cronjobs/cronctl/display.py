"""How values read for people, in the CLI's tables and the dashboard alike: spans (`2h05m`),
ages (`3m ago`, `in 2h`), UTC stamps, streaks, a run's origin; user-written text made safe to
print. No I/O and no click: cronjobs.cronctl.render (the CLI) and cronjobs.web build on it."""

from __future__ import annotations

from datetime import UTC, datetime

from cronjobs.cronctl.model import LEDGER, CronJobInfo, Run
from cronjobs.cronctl.results import exit_meaning

FROM_LEDGER = "from the keeper's ledger; its Job is gone"
LEDGER_FORBIDDEN = (
    "the keeper's ledger of this CronJob cannot be read (no get on configmaps): the runs whose "
    "Jobs are gone are not shown"
)


def printable(text: object) -> str:
    """`text` on one line, each control or invisible character escaped (`\\n`, `\\x1b`,
    `\\u2028`): what a user wrote into a CronJob (a suspend reason, a name) can neither start a
    new line in a log or a table nor send a terminal escape."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )


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


def failure_line(info: CronJobInfo, now: datetime) -> str:
    """`2h ago, web-x-1: BackoffLimitExceeded, exit 2 (USAGE: ...)` or `-`; a run only the
    keeper's ledger remembers says so."""
    failed = next((r for r in info.runs if r.result == "Failed"), None)
    if failed is None:
        return ago(info.last_failure, now)
    text = f"{ago(failed.finished or failed.created, now)}, {failed.name}"
    if failed.reason:
        text += f": {failed.reason}"
    if failed.exit_code is not None:
        text += f", exit {failed.exit_code} ({exit_meaning(failed.exit_code)})"
    if origin(failed):
        text += f" ({origin(failed)})"
    return text


def origin(run: Run) -> str:
    """Where a run was found, when it matters: FROM_LEDGER, else ""."""
    return FROM_LEDGER if run.source == LEDGER else ""


def ledger_note(info: CronJobInfo) -> str:
    """One line when the keeper keeps a ledger of this CronJob that cannot be read, else ""."""
    return LEDGER_FORBIDDEN if info.ledger == "forbidden" else ""
