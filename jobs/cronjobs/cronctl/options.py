"""cronctl's shared options, as decorators, and the state they fill (the CLI layer only).

Three groups, so that each command offers only what it honours:
- `connection_options`: how to reach the cluster (every command, on the group too);
- `selection_options`: `-A` and `-l` (only the commands that select several CronJobs);
- `output_option(...)`: `-o` with the formats the command renders.
The group's copies carry the env vars and defaults; a command's copies only repeat the flags, so
that `cronctl list -o json` and `cronctl -n ns list` both work.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from cronjobs.cronctl.model import DEFAULT_SELECTOR

if TYPE_CHECKING:
    from cronjobs.cronctl.controller import CronJobController

F = TypeVar("F", bound=Callable[..., Any])
OUTPUTS = ("table", "wide", "json", "yaml")
STRUCTURED = ("json", "yaml")


@dataclass
class State:
    """The options given, on the group or after a subcommand (`cronctl list -o json`)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str = DEFAULT_SELECTOR
    output: str = "table"
    verbose: bool = False
    request_timeout: float = 30.0
    poll_interval: float = 2.0

    @property
    def structured(self) -> bool:
        return self.output in STRUCTURED


def state() -> State:
    return click.get_current_context().find_root().ensure_object(State)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None or value is False:  # not given: no option has a click-level default
        return value
    setattr(ctx.find_root().ensure_object(State), str(param.name), value)
    if param.name == "verbose":
        logging.getLogger().setLevel(logging.DEBUG)
    return value


_COMMON: dict[str, Any] = {"expose_value": False, "callback": _store, "is_eager": True}


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def connection_options(top: bool) -> Callable[[F], F]:
    """--kubeconfig, --context, -n, --request-timeout, -v: with env vars on the group."""

    def env(name: str) -> dict[str, Any]:
        return {"envvar": name, "show_envvar": True} if top else {}

    def default(value: Any) -> dict[str, Any]:
        return {"show_default": str(value)} if top else {}  # State holds the real default

    return _apply(
        [
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False),
                **env("KUBECONFIG"),
                help="Path to the kubeconfig file, or a list of them separated by ':' "
                "(default: in-cluster, else ~/.kube/config).",
                **_COMMON,
            ),
            click.option(
                "--context",
                **env("CRONCTL_CONTEXT"),
                help="The kubeconfig context to use.",
                **_COMMON,
            ),
            click.option(
                "-n",
                "--namespace",
                **env("CRONCTL_NAMESPACE"),
                help="Namespace (default: the context's).",
                **_COMMON,
            ),
            click.option(
                "--request-timeout",
                type=click.FloatRange(min=0.1),
                **env("CRONCTL_REQUEST_TIMEOUT"),
                **default(30.0),
                help="Seconds to wait for each API call.",
                **_COMMON,
            ),
            click.option(
                "--poll-interval",
                type=click.FloatRange(min=0.01),
                hidden=True,
                **env("CRONCTL_POLL_INTERVAL"),
                **_COMMON,
            ),
            click.option(
                "-v", "--verbose", is_flag=True, help="Debug logs and tracebacks.", **_COMMON
            ),
        ]
    )


def selection_options(what: str = "List") -> Callable[[F], F]:
    """-A and -l, for the commands that act on a set of CronJobs."""
    return _apply(
        [
            click.option(
                "-A",
                "--all-namespaces",
                is_flag=True,
                envvar="CRONCTL_ALL_NAMESPACES",
                show_envvar=True,
                help=f"{what} across all namespaces.",
                **_COMMON,
            ),
            click.option(
                "-l",
                "--selector",
                envvar="CRONCTL_SELECTOR",
                show_envvar=True,
                show_default=DEFAULT_SELECTOR,
                help="Label selector for the chart's CronJobs.",
                **_COMMON,
            ),
        ]
    )


class _OutputOption(click.Option):
    """-o. CRONCTL_OUTPUT=wide, set for `list`, reads as `table` on a command without a wide
    form (typed on the command line, `-o wide` there is an error)."""

    def value_from_envvar(self, ctx: click.Context) -> Any:
        value = super().value_from_envvar(ctx)
        choices = getattr(self.type, "choices", ())
        return "table" if value == "wide" and "wide" not in choices else value


def output_option(*formats: str) -> Callable[[F], F]:
    """-o with the formats this command renders (default table)."""
    return click.option(
        "-o",
        "--output",
        cls=_OutputOption,
        type=click.Choice(formats),
        envvar="CRONCTL_OUTPUT",
        show_envvar=True,
        show_default="table",
        help="Output format.",
        **_COMMON,
    )


def typed_selector() -> str | None:
    """`-l` when typed on the command line, else None.

    Only a typed selector picks the CronJobs to suspend/resume: one from CRONCTL_SELECTOR (or
    the default) must not turn a bare `cronctl suspend` into "all of them".
    """
    ctx = click.get_current_context()
    if ctx.get_parameter_source("selector") == ParameterSource.COMMANDLINE:
        return state().selector
    return None


def connect(field_manager: str = "cronctl") -> CronJobController:
    """Build the controller from the options (this is where `kubernetes` is imported);
    `field_manager` names cronctl's writes and its User-Agent (see ClientSettings)."""
    from cronjobs.cronctl.api import ClientSettings
    from cronjobs.cronctl.controller import CronJobController

    s = state()
    settings = ClientSettings(s.kubeconfig, s.context, s.request_timeout, field_manager)
    controller = CronJobController.connect(
        settings,
        namespace=s.namespace,
        all_namespaces=s.all_namespaces,
        selector=s.selector,
        poll_interval=s.poll_interval,
    )
    click.get_current_context().call_on_close(controller.close)
    quiet_libraries()  # again: kubernetes < 37's Configuration() resets urllib3's level
    return controller


def quiet_libraries() -> None:
    if not state().verbose:
        logging.getLogger("urllib3").setLevel(logging.ERROR)  # retries are not news
        logging.getLogger("kubernetes").setLevel(logging.WARNING)


def echo(text: str) -> None:
    click.echo(text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=36500)
"""Longer durations are refused: now plus or minus one must stay a date computers can hold."""


class Duration(click.ParamType):  # type: ignore[type-arg]
    """`90m`, `36h`, `7d`, `1d12h`, `2w`: a positive duration."""

    name = "DURATION"
    _PART = re.compile(r"(\d+)([smhdw])")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        parts = self._PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            self.fail(f"{value!r} is not a duration: use e.g. 90m, 36h, 7d or 1d12h", param, ctx)
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
        if seconds <= 0:
            self.fail("the duration must be longer than 0s", param, ctx)
        if seconds > MAX_DURATION.total_seconds():
            self.fail(
                f"{value!r} is too long: at most {MAX_DURATION.days}d (100 years)", param, ctx
            )
        return timedelta(seconds=seconds)


class Instant(click.ParamType):  # type: ignore[type-arg]
    """An ISO time (`2026-03-08T00:00Z`; UTC without an offset)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO time (2026-11-30T10:00Z)", param, ctx)
        return when if when.tzinfo else when.replace(tzinfo=UTC)


class Since(Duration):
    """A duration back from now (`24h`, `7d`) or a UTC time (`2026-11-30T10:00Z`)."""

    name = "DURATION|TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        if text[:1].isdigit() and ("-" in text or ":" in text):
            return Instant().convert(text, param, ctx)
        return super().convert(value, param, ctx)


def timeout_option(help: str) -> Callable[[F], F]:
    """`--timeout SECONDS` (CRONCTL_TIMEOUT, default 600) of the commands that wait."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=600,
        show_default=True,
        envvar="CRONCTL_TIMEOUT",
        show_envvar=True,
        help=help,
    )
