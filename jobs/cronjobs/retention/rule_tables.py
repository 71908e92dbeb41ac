"""A rules file turned into what the jobs run on: `Retention` rules and `AnalyticsTables`.

Each table is reflected for its columns' real types, then declared again with only the columns
the jobs use, each under the key the jobs' code knows it by (`id`, `occurred_at`, `day`, ...)
and the name the app gave it. So the same statements run on any schema, with every name quoted
by SQLAlchemy: a name from the file is never SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Engine, MetaData, Table, inspect

from cronjobs.errors import ConfigError
from cronjobs.retention.rules import DEFAULTS, RetentionRule, Rules
from cronjobs.retention.tables import (
    ANALYTICS_EVENTS,
    DEFAULT_TABLES,
    SESSIONS,
    AnalyticsTables,
    Retention,
    bind,
)

if TYPE_CHECKING:
    from cronjobs.context import JobContext

log = logging.getLogger(__name__)


@contextmanager
def checked(ctx: JobContext, loaded: Rules) -> Iterator[Engine]:
    """The engine to reflect a rules file's tables on, once its rules (as the job loaded them)
    are checked against the database: a mismatch is exit 2 before any row is touched, a slow
    rule a warning. An engine of its own, closed when the block ends, so the run's own
    connection keeps the job's lock and does the work (one connection, not an idle one holding
    the lock beside another)."""
    from cronjobs.database import connect
    from cronjobs.retention import schema_check

    s = ctx.settings
    engine = connect(s.require_database(), s.timeout, s.lock_timeout)
    try:
        for finding in schema_check.require_valid(engine, loaded, ctx.job):
            log.warning("rules: %s", finding)
        yield engine
    finally:
        engine.dispose()


def _declare(engine: Engine, name: str, keyed: dict[str, str], schema: str | None) -> Table:
    """`name` (in `schema`, if given) with the columns `keyed` (key -> the app's column name),
    types reflected; the key `id` (or `day` and `event_type` together) is the primary key. Each
    declaration has a MetaData of its own: one table may play two parts (a child of one rule, a
    parent of another)."""
    types = {c["name"]: c["type"] for c in inspect(engine).get_columns(name, schema=schema)}
    pk = {"id"} if "id" in keyed else {"day", "event_type"}
    columns: list[Column[Any]] = [
        Column(column, types[column], key=key, primary_key=key in pk)
        for key, column in keyed.items()
    ]
    return Table(name, MetaData(), *columns, schema=schema)


def _retention(engine: Engine, rule: RetentionRule, schema: str | None) -> Retention:
    keyed = {c: c for c in rule.age.columns}
    if "id" in keyed and rule.primary_key != "id":
        raise ConfigError(f"{rule.where}: an age column named 'id' must be the primary key")
    keyed["id"] = rule.primary_key
    table = _declare(engine, rule.table, keyed, schema)
    children = tuple(
        _declare(engine, child.table, {"fk": child.foreign_key}, schema).c.fk
        for child in rule.children
    )
    return bind(rule, table, children, engine.dialect.name)


def sessions(engine: Engine, rules: Rules) -> tuple[Retention, ...]:
    """cleanup-old-sessions' rules on this database (the built-in ones for the defaults)."""
    if rules.sessions is DEFAULTS.sessions and rules.schema is None:
        return SESSIONS
    return tuple(_retention(engine, rule, rules.schema) for rule in rules.sessions)


def analytics(engine: Engine, rules: Rules) -> tuple[Retention, AnalyticsTables]:
    """cleanup-old-analytics' rule and the roll-up's tables on this database."""
    built_in = rules.analytics is DEFAULTS.analytics and rules.rollup is DEFAULTS.rollup
    if built_in and rules.schema is None:
        return ANALYTICS_EVENTS, DEFAULT_TABLES
    rule, rollup = rules.analytics, rules.rollup
    if rule.age.columns != (rollup.timestamp,):
        raise ConfigError(
            f"{rule.where}: cleanup-old-analytics deletes whole days of the roll-up's timestamp: "
            f"set age = {rollup.timestamp!r}"
        )
    if rule.table != rollup.source:
        raise ConfigError(
            f"{rule.where}: cleanup-old-analytics deletes from the roll-up's source table, "
            f"{rollup.source!r}: make them the same table"
        )
    events = _declare(
        engine,
        rollup.source,
        {
            "id": rule.primary_key,
            "occurred_at": rollup.timestamp,
            "event_type": rollup.group_by,
            "user_id": rollup.distinct,
        },
        rules.schema,
    )
    cols = rollup.columns
    daily = _declare(
        engine,
        rollup.target,
        {
            "day": cols["day"],
            "event_type": cols["group"],
            "event_count": cols["count"],
            "unique_users": cols["distinct"],
            "updated_at": cols["updated_at"],
        },
        rules.schema,
    )
    retained = Retention(rule, events, events.c.occurred_at)
    return retained, AnalyticsTables(events, daily)
