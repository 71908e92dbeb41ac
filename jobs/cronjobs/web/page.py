"""The dashboard's HTML, server-rendered: the layout, the list of CronJobs, and error pages.

Every value goes through `e()` (html.escape). The page works without JavaScript (links, data);
jobs/cronjobs/web/assets.py adds the dialogs, the actions and the refresh. Times use cronctl's own wording
(`in 3h (2026-05-01 02:00 UTC)`, `2h ago`) from cronjobs.cronctl.render.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from cronjobs.cronctl import model
from cronjobs.cronctl.display import ago, printable, streak, suspended_for, until
from cronjobs.cronctl.model import CronJobInfo

RESULT_CLASS = {"Succeeded": "ok", "Failed": "bad", "Running": "run", "Suspended": "warn"}


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(value: datetime | None, text: str) -> str:
    """A <time> element: machine-readable ISO, cronctl's words."""
    if value is None:
        return e(text)
    return f'<time datetime="{e(model.iso(value))}">{e(text)}</time>'


def badge(result: str | None) -> str:
    if not result:
        return '<span class="muted">no finished run</span>'
    return f'<span class="badge {RESULT_CLASS.get(result, "")}">{e(result)}</span>'


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str) -> str:
    """A table whose cells are already HTML; on a phone each row becomes a card (data-label)."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{e(h)}">{cell}</td>' for h, cell in zip(headers, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table class="{cls}"><caption>{e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def actions(info: CronJobInfo, read_only: bool) -> str:
    """Suspend or Resume, and Trigger: none in read-only mode."""
    if read_only:
        return ""
    name = e(info.name)
    toggle = "resume" if info.suspended else "suspend"
    return (
        f'<div class="actions">'
        f'<button type="button" data-action="{toggle}" data-name="{name}" '
        f'aria-label="{toggle.title()} {name}">{toggle.title()}</button>'
        f'<button type="button" data-action="trigger" data-name="{name}" '
        f'aria-label="Trigger {name} now">Trigger</button></div>'
    )


def suspended_cell(info: CronJobInfo) -> str:
    if not info.suspended:
        return "no"
    text = f'<strong class="warn">{e(suspended_for(info))}</strong>'
    if info.suspended_by:
        text += f'<br><span class="muted">by {e(printable(info.suspended_by))}</span>'
    if info.suspend_reason:
        text += f'<br><q class="reason">{e(printable(info.suspend_reason))}</q>'
    return text


def problems(info: CronJobInfo) -> str:
    """What cronctl could not read in this CronJob (or its Jobs), and why: the row is shown
    with the rest ignored."""
    if not info.problems:
        return ""
    items = "".join(f"<li>{e(printable(p))}</li>" for p in info.problems)
    return (
        f'<div class="problems" role="note"><span class="badge bad">unreadable fields</span>'
        f"<ul>{items}</ul></div>"
    )


def schedule_cell(info: CronJobInfo) -> str:
    words = e(info.schedule_description or "unreadable schedule")
    return f'{words}<br><code class="muted">{e(info.schedule)}</code>'


def next_cell(info: CronJobInfo, now: datetime) -> str:
    if info.never_runs:
        return '<span class="bad">never (will never run)</span>'
    if info.suspended:
        return '<span class="muted">- (suspended)</span>'
    return when(info.next_run, until(info.next_run, now))


def last_result_cell(info: CronJobInfo, now: datetime) -> str:
    cell = badge(info.last_result)
    if info.active:
        cell = f'<span class="badge run">Running ({info.active})</span><br>' + cell
    if info.last_job:
        cell += f'<br><span class="muted">{e(info.last_job)}</span>'
    if info.last_failure and info.last_result != "Failed":
        cell += f"<br>last failure {when(info.last_failure, ago(info.last_failure, now))}"
    return cell


def dashboard(infos: Sequence[CronJobInfo], now: datetime, base: str, read_only: bool) -> str:
    """The list: one row per CronJob."""
    if not infos:
        return (
            '<p class="empty">No CronJobs match the selector in this namespace: check the '
            "dashboard's --selector and --namespace (or the chart's labels).</p>"
        )
    headers = [
        "CronJob",
        "Schedule",
        "Time zone",
        "Next run",
        "Last result",
        "Failure streak",
        "Missed (24h)",
        "Suspended",
    ]
    if not read_only:
        headers.append("Actions")
    rows = []
    for i in infos:
        failing = i.streak is not None and i.streak[0] == "Failed"
        row = [
            f'<a href="{e(base)}jobs/{quote(i.name)}">{e(i.name)}</a>{problems(i)}',
            schedule_cell(i),
            e(i.time_zone or "UTC (default)"),
            next_cell(i, now),
            last_result_cell(i, now),
            f'<span class="{"bad" if failing else ""}">{e(streak(i.streak))}</span>',
            e("-" if i.missed is None else i.missed),
            suspended_cell(i),
        ]
        if not read_only:
            row.append(actions(i, read_only))
        rows.append(row)
    return table(f"{len(infos)} CronJob(s)", headers, rows, "cronjobs")


def layout(
    title: str,
    content: str,
    *,
    base: str,
    csrf: str,
    read_only: bool,
    refresh_seconds: int,
    token_sign_in: bool,
    now: datetime,
    heading: str | None = None,
) -> str:
    """The whole page: banner, content, dialogs (unless read-only), the script."""
    banner = (
        '<p class="banner" role="note"><strong>Read-only.</strong> This dashboard has no auth '
        "method, so it shows the CronJobs but cannot change them. Mount the router with an auth "
        "dependency, or start <code>cronctl serve</code> with <code>--tokens-file</code>.</p>"
        if read_only
        else ""
    )
    sign_in = (
        '<form id="sign-in" class="sign-in"><label for="token">Token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required><button type="submit">Sign in</button></form>'
        '<p id="signed-in" class="sign-in" hidden>Signed in with a token. '
        '<button type="button" id="sign-out">Sign out</button></p>'
        if token_sign_in and not read_only
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(csrf)}">
<title>{e(heading or title)}</title>
<link rel="stylesheet" href="{e(base)}assets/dashboard.css">
<script src="{e(base)}assets/dashboard.js" defer></script>
<noscript><meta http-equiv="refresh" content="{max(refresh_seconds, 30)}"></noscript>
</head>
<body data-base="{e(base)}" data-refresh="{refresh_seconds}" data-read-only="{str(read_only).lower()}">
<header><h1><a href="{e(base)}">{e(title)}</a>{" / " + e(heading) if heading else ""}</h1>
{sign_in}</header>
{banner}
<p id="status" role="status" aria-live="polite"></p>
<main id="content">{content}
<p class="updated">Updated <time datetime="{e(model.iso(now))}">{e(now.strftime("%H:%M:%S UTC"))}</time>; refreshes every {refresh_seconds}s.</p>
</main>
{"" if read_only else DIALOGS}
</body></html>
"""


DIALOGS = """<dialog id="suspend-dialog" aria-labelledby="suspend-title">
<form method="dialog">
<h2 id="suspend-title">Suspend <span data-slot="name"></span>?</h2>
<p>No new runs start until it is resumed; a running Job continues.</p>
<label for="suspend-reason">Reason (recorded on the CronJob)</label>
<textarea id="suspend-reason" name="reason" rows="3" maxlength="500" required></textarea>
<div class="buttons"><button value="cancel" formnovalidate>Cancel</button>
<button value="confirm" class="primary">Suspend</button></div>
</form></dialog>
<dialog id="confirm-dialog" aria-labelledby="confirm-title">
<form method="dialog">
<h2 id="confirm-title" data-slot="question"></h2>
<p data-slot="detail"></p>
<div class="buttons"><button value="cancel">Cancel</button>
<button value="confirm" class="primary" data-slot="verb">Confirm</button></div>
</form></dialog>"""


def error(message: str, status: int, base: str) -> str:
    return (
        f'<div class="error" role="alert"><h2>Error {status}</h2><p>{e(message)}</p>'
        f'<p><a href="{e(base)}">Back to the CronJobs</a></p></div>'
    )
