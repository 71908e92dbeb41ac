"""Retention rules as data: which rows are old, by which timestamps, what goes with them, and
how raw analytics roll up into daily figures.

A TOML file (CRONJOBS_RULES or --rules; the chart mounts one from a ConfigMap) describes the
app's own schema; without one, the defaults below are today's tables. Every name in the file is
an identifier, never SQL: it is checked here for shape and quoted wherever it is used (by
SQLAlchemy, or by cronjobs.dbapi.quote in SQL text), and `cronjobs.retention.schema_check` checks it against the live database before anything runs.

    schema = "app"                      # PostgreSQL: the schema of every table below (default:
                                        # the first of the connection's search_path)

    [[cleanup-old-sessions]]            # one entry per table the job cleans
    table = "chat_sessions"
    primary_key = "id"                  # default "id"
    age = { first_of = ["updated_at", "created_at"] }   # or "created_at", or { latest_of = [...] }
    days = 90
    children = [{ table = "chat_messages", foreign_key = "session_id" }]
    cascades = [{ table = "message_votes", foreign_key = "message_id" }]  # see below

    [cleanup-old-analytics]
    table = "analytics_events"
    age = "occurred_at"
    days = 365
    whole_days = true

    [rollup]                            # aggregate-daily-analytics, and what the cleanup checks
    source = "analytics_events"
    timestamp = "occurred_at"
    group_by = "event_type"
    distinct = "user_id"
    target = "daily_analytics"
    [rollup.columns]                    # the target's columns, if not these names
    day = "day"
    group = "event_type"
    count = "event_count"
    distinct = "unique_users"
    updated_at = "updated_at"

Nothing is deleted that the rules do not name: a foreign key ON DELETE CASCADE that points at a
table a rule deletes from (its own, a child's, or one reached by another cascade) must be a
child of the rule (deleted in the batch, counted) or listed in its `cascades` (the database
deletes those rows, uncounted); see jobs/cronjobs/retention/cascades.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cronjobs.errors import ConfigError
from cronjobs.files import read_regular
from cronjobs.retention import ANALYTICS_DAYS, SESSION_DAYS

ENV = "CRONJOBS_RULES"
MAX_BYTES = 1024 * 1024
"""A rules file describes a few tables: anything larger is not one."""
MAX_IDENTIFIER = 63  # PostgreSQL's limit; longer names would be truncated silently


@dataclass(frozen=True)
class Child:
    table: str
    foreign_key: str
    undeclared: bool = False
    """The app's schema declares no foreign key constraint for it, and the rules file says the
    column holds the parent's ids anyway: the check then warns instead of refusing."""


@dataclass(frozen=True)
class Age:
    columns: tuple[str, ...]
    mode: str = "column"
    """"column" (one timestamp), "first_of" (the first that is not NULL) or "latest_of" (the
    later of them, NULLs ignored)."""


@dataclass(frozen=True)
class RetentionRule:
    job: str
    table: str
    age: Age
    days: int
    primary_key: str = "id"
    children: tuple[Child, ...] = ()
    whole_days: bool = False
    cascades: tuple[Child, ...] = ()
    """Foreign keys ON DELETE CASCADE whose rows the rule lets the database delete (uncounted):
    a key pointing at a child, or at the rule's own table from itself."""

    @property
    def where(self) -> str:
        return f"{self.job} rule for table {self.table!r}"

    def cutoff(self, days: int | None, now: datetime) -> datetime:
        """Rows older than this are old: `days` (default: the rule's) before `now`, rounded
        down to midnight UTC with `whole_days` (a day is deleted whole or not at all)."""
        cutoff = now - timedelta(days=self.days if days is None else days)
        if self.whole_days:
            cutoff = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
        return cutoff


@dataclass(frozen=True)
class Rollup:
    source: str = "analytics_events"
    timestamp: str = "occurred_at"
    group_by: str = "event_type"
    distinct: str = "user_id"
    target: str = "daily_analytics"
    columns: Mapping[str, str] = field(
        default_factory=lambda: {
            "day": "day",
            "group": "event_type",
            "count": "event_count",
            "distinct": "unique_users",
            "updated_at": "updated_at",
        }
    )


@dataclass(frozen=True)
class Rules:
    sessions: tuple[RetentionRule, ...]
    analytics: RetentionRule
    rollup: Rollup
    source: str = "the defaults"
    """Where the rules came from: a file's path, or the defaults."""
    schema: str | None = None
    """PostgreSQL: the schema holding every table (None: the connection's default schema)."""


_LAST_ACTIVITY = Age(("updated_at", "created_at"), "first_of")
DEFAULTS = Rules(
    sessions=(
        RetentionRule(
            "cleanup-old-sessions",
            "chat_sessions",
            _LAST_ACTIVITY,
            SESSION_DAYS,
            children=(Child("chat_messages", "session_id"),),
        ),
        RetentionRule(
            "cleanup-old-sessions", "peptide_info_sessions", _LAST_ACTIVITY, SESSION_DAYS
        ),
    ),
    analytics=RetentionRule(
        "cleanup-old-analytics",
        "analytics_events",
        Age(("occurred_at",)),
        ANALYTICS_DAYS,
        whole_days=True,
    ),
    rollup=Rollup(),
)
"""The built-in tables' rules (jobs/cronjobs/retention/models.py): the one set of defaults."""


def load(path: str | None = None, environ: Mapping[str, str] | None = None) -> Rules:
    """The rules from `path` (or CRONJOBS_RULES), else the defaults; a ConfigError names the
    file, the entry and the key that is wrong."""
    env = os.environ if environ is None else environ
    path = path or env.get(ENV) or None
    if path is None:
        return DEFAULTS
    import tomllib  # on use: the job modules import this one for the defaults

    try:
        raw = read_regular(path, f"the rules file {path}", MAX_BYTES, "give a TOML rules file")
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"the rules file {path} (--rules or {ENV}) does not exist: check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the rules file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"the rules file {path} is not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(
            f"the rules file {path} nests arrays or tables too deeply to read: it is not a rules "
            "file (see `cronjobs retention show` for the format)"
        ) from None
    return parse(data, path)


_SECTIONS = {"cleanup-old-sessions", "cleanup-old-analytics", "rollup"}


def parse(data: Mapping[str, Any], source: str) -> Rules:
    unknown = set(data) - _SECTIONS - {"schema"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {sorted(unknown)}; the file has `schema = ...`, "
            f"[[cleanup-old-sessions]], [cleanup-old-analytics] and [rollup]"
        )
    schema = None
    if "schema" in data:
        schema = identifier(data["schema"], f"{source}: schema")
    sessions = DEFAULTS.sessions
    if "cleanup-old-sessions" in data:
        entries = data["cleanup-old-sessions"]
        if not isinstance(entries, list) or not entries:
            raise ConfigError(
                f"{source}: cleanup-old-sessions must be a list of tables: [[cleanup-old-sessions]]"
            )
        sessions = tuple(_rule("cleanup-old-sessions", e, source) for e in entries)
    analytics = DEFAULTS.analytics
    if "cleanup-old-analytics" in data:
        analytics = _rule("cleanup-old-analytics", data["cleanup-old-analytics"], source)
    rollup = DEFAULTS.rollup
    if "rollup" in data:
        rollup = _rollup(data["rollup"], source)
    if analytics.table == rollup.source:  # one table, its columns in one declaration
        roles = {"cleanup-old-analytics primary_key": analytics.primary_key}
        _distinct(roles | {f"rollup {k}": getattr(rollup, k) for k in _SOURCE_ROLES}, source)
    return Rules(sessions, analytics, rollup, source, schema)


_RULE_KEYS = {"table", "primary_key", "age", "days", "children", "whole_days", "cascades"}


def _rule(job: str, entry: Any, source: str) -> RetentionRule:
    where = f"{source}: {job}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each entry is a table of keys (table, age, days, ...)")
    where = f"{where} rule for table {entry.get('table', '?')!r}"
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}"
        )
    for key in ("table", "age", "days"):
        if key not in entry:
            raise ConfigError(f"{where}: `{key}` is missing")
    days = entry["days"]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36_500:
        raise ConfigError(f"{where}: days must be a whole number from 1 to 36500, got {days!r}")
    children = entry.get("children", [])
    if children and job == "cleanup-old-analytics":
        raise ConfigError(
            f"{where}: cleanup-old-analytics deletes whole days of events and no child rows: "
            "drop `children` (rows that refer to an event by a key ON DELETE CASCADE are listed "
            "in `cascades`)"
        )
    cascades = entry.get("cascades", [])
    for key, value in (("children", children), ("cascades", cascades)):
        if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
            raise ConfigError(f"{where}: {key} is a list of {{ table = ..., foreign_key = ... }}")
    whole = entry.get("whole_days", False)
    if not isinstance(whole, bool):
        raise ConfigError(f"{where}: whole_days must be true or false")
    age = _age(entry["age"], where)
    primary_key = identifier(entry.get("primary_key", "id"), f"{where}: primary_key")
    _distinct({"primary_key": primary_key, **{f"age {c!r}": c for c in age.columns}}, where)
    return RetentionRule(
        job=job,
        table=identifier(entry["table"], f"{where}: table"),
        age=age,
        days=days,
        primary_key=primary_key,
        children=tuple(_child(c, where) for c in children),
        whole_days=whole,
        cascades=tuple(_cascade(c, where) for c in cascades),
    )


_CHILD_KEYS = {"table", "foreign_key", "undeclared"}


def _child(entry: dict[str, Any], where: str) -> Child:
    unknown = sorted(set(entry) - _CHILD_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: children entries take {', '.join(sorted(_CHILD_KEYS))}; got {unknown}"
        )
    undeclared = entry.get("undeclared", False)
    if not isinstance(undeclared, bool):
        raise ConfigError(f"{where}: children.undeclared must be true or false")
    return Child(
        identifier(entry.get("table"), f"{where}: children.table"),
        identifier(entry.get("foreign_key"), f"{where}: children.foreign_key"),
        undeclared,
    )


def _cascade(entry: dict[str, Any], where: str) -> Child:
    unknown = sorted(set(entry) - {"table", "foreign_key"})
    if unknown:
        raise ConfigError(f"{where}: cascades entries take foreign_key, table; got {unknown}")
    return Child(
        identifier(entry.get("table"), f"{where}: cascades.table"),
        identifier(entry.get("foreign_key"), f"{where}: cascades.foreign_key"),
    )


def _age(value: Any, where: str) -> Age:
    if isinstance(value, str):
        return Age((identifier(value, f"{where}: age"),))
    if isinstance(value, dict) and len(value) == 1:
        ((mode, columns),) = value.items()
        if mode in ("first_of", "latest_of") and isinstance(columns, list) and columns:
            names = tuple(identifier(c, f"{where}: age.{mode}") for c in columns)
            return Age(names, mode if len(names) > 1 else "column")
    raise ConfigError(
        f"{where}: age is a column name, {{ first_of = [columns] }} (the first that is not NULL) "
        f"or {{ latest_of = [columns] }} (the latest), got {value!r}"
    )


_SOURCE_ROLES = ("timestamp", "group_by", "distinct")
_ROLLUP_KEYS = {"source", *_SOURCE_ROLES, "target", "columns"}


def _rollup(value: Any, source: str) -> Rollup:
    where = f"{source}: rollup"
    if not isinstance(value, dict):
        raise ConfigError(f"{where} is a table of keys: source, timestamp, group_by, ...")
    unknown = set(value) - _ROLLUP_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ROLLUP_KEYS)}"
        )
    defaults = Rollup()
    columns = dict(defaults.columns)
    given = value.get("columns", {})
    if not isinstance(given, dict) or set(given) - set(columns):
        raise ConfigError(f"{where}: columns maps {sorted(columns)} to the target's column names")
    columns.update({k: identifier(v, f"{where}: columns.{k}") for k, v in given.items()})
    _distinct({f"columns.{k}": v for k, v in columns.items()}, where)
    names = {k: identifier(value.get(k, getattr(defaults, k)), f"{where}: {k}")
             for k in ("source", *_SOURCE_ROLES, "target")}  # fmt: skip
    _distinct({k: names[k] for k in _SOURCE_ROLES}, where)
    return Rollup(columns=columns, **names)


def _distinct(roles: Mapping[str, str], where: str) -> None:
    """Each role a column of its own: the jobs read and write a table's columns by role, and
    two roles on one column would declare it twice (a database error halfway through a run)."""
    seen: dict[str, str] = {}
    for role, column in roles.items():
        if column in seen:
            raise ConfigError(
                f"{where}: {seen[column]} and {role} both name the column {column!r}; give each "
                "its own column"
            )
        seen[column] = role


def identifier(value: Any, where: str) -> str:
    """A table or column name as given: any characters a database allows in a quoted name
    (quotes, spaces, mixed case, reserved words), never SQL. Empty, over-long or NUL-holding
    names are refused."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty name, got {value!r}")
    if "\x00" in value or any(not c.isprintable() for c in value):
        raise ConfigError(f"{where} holds a control character: {value!r}")
    if len(value.encode()) > MAX_IDENTIFIER:
        raise ConfigError(f"{where} is longer than {MAX_IDENTIFIER} bytes: {value!r}")
    return value
