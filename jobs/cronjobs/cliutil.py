"""The plumbing every `cronjobs` command shares: errors to `Error: ...` and exit codes,
settings from flags, printing a result and exiting with its code.

CLI layer only (click); the commands are in jobs/cronjobs/cli.py (the group, `list`),
jobs/cronjobs/cli_app.py (every job's subcommand, `run`, `chart-values`, `import-apscheduler`,
`retention`) and jobs/cronjobs/dev/commands.py (`init-db`, `demo`).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from cronjobs import summary
from cronjobs.errors import JobError, unexpected
from cronjobs.redact import remember, scrub
from cronjobs.render import to_json
from cronjobs.settings import Settings, connection_environ, parse_prefixes, secrets_of

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("cronjobs.cli")

SECRET_SETTINGS = ("database_url", "redis_url", "qdrant_url", "qdrant_api_key")


def _fail(error: JobError, obj: dict[str, Any], as_json: bool = False) -> NoReturn:
    """`Error: <message>` on stderr (and a JSON log line in JSON mode, unless the run logged
    its failure already), a traceback only with -v, every part scrubbed; exit with the code.
    With `-o json`, stdout gets `{"command", "exit_code", "error"}` too: a failed run still
    answers in the shape asked for."""
    message = scrub(str(error))
    name = click.get_current_context().info_name or "cronjobs"
    if as_json:
        shown = {"command": name, "exit_code": int(error.exit_code), "error": message}
        click.echo(json.dumps(shown, indent=2))
    if obj.get("verbose"):
        click.echo(scrub(traceback.format_exc()).rstrip(), err=True)
    if not error.logged:  # not from a run (a setting refused before it started): say so too
        if obj.get("json"):
            log.error("%s", message, extra={"exit_code": int(error.exit_code)})
        summary.write(summary.line(name, None, error.exit_code, 0.0, error=message))
    click.echo(f"Error: {message}", err=True)
    sys.exit(int(error.exit_code))


def handles_errors(f: F) -> F:
    """Map a command's errors to `Error: ...` on stderr and the documented exit code: a
    JobError's own, 1 for anything unexpected (a bug, an untranslated library error)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        obj = click.get_current_context().obj or {}
        remember(secrets_of(*(kwargs.get(k) for k in SECRET_SETTINGS)))
        as_json = kwargs.get("output") == "json"
        try:
            f(*args, **kwargs)
        except JobError as e:
            _fail(e, obj, as_json)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click renders usage errors itself (exit 2)
        except Exception as e:
            _fail(unexpected(e), obj, as_json)

    return wrapper  # type: ignore[return-value]


def settings_from(kwargs: dict[str, Any]) -> Settings:
    """Settings from the flags a command took (click already read their env vars)."""
    prefixes: tuple[str, ...] = ()
    for value in kwargs.get("cache_prefixes") or ():
        prefixes += parse_prefixes(value)
    settings = Settings(
        database_url=kwargs.get("database_url") or None,
        redis_url=kwargs.get("redis_url") or None,
        qdrant_url=kwargs.get("qdrant_url") or None,
        qdrant_api_key=kwargs.get("qdrant_api_key") or None,
        qdrant_path=kwargs.get("qdrant_path") or None,
        cache_prefixes=prefixes or Settings.cache_prefixes,
        timeout=kwargs.get("timeout", Settings.timeout),
        lock_timeout=kwargs.get("lock_timeout", Settings.lock_timeout),
    )
    return settings


def run_environ(kwargs: dict[str, Any]) -> dict[str, str]:
    """The variables the app's code reads while a job runs: the connection flags given (as
    DATABASE_URL, ...), and the run's tick as CRONJOBS_SCHEDULED_AT when --scheduled-at gave
    one (exported for the run only: the next run in this process resolves its own)."""
    from cronjobs.tick import SCHEDULED_AT

    at = kwargs.get("scheduled_at")
    return connection_environ(kwargs) | ({SCHEDULED_AT: at.isoformat()} if at else {})


def finish(result: Any, output: str) -> NoReturn:
    """Print a run's result (`-o json`: its `report`, when it has one) and exit with its code."""
    shown = (
        to_json(getattr(result, "report", result))
        if output == "json"
        else "\n".join(result.lines())
    )
    click.echo(scrub(shown))  # a job's own result may quote a secret
    sys.exit(int(result.exit_code))
