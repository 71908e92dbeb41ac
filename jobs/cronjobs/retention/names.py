"""The tables a run's SQL text names: plain quoted names, no SQLAlchemy.

The built-in jobs send their SQL as text on the run's own connection (cronjobs.dbapi); they
name tables and columns through these. `DEFAULT_ANALYTICS` names the built-in tables
(jobs/cronjobs/retention/models.py); a rules file's reflected tables give theirs
(`analytics_names`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cronjobs.dbapi import qualified, quote


@dataclass(frozen=True)
class TableName:
    name: str
    columns: tuple[tuple[str, str], ...]
    """(key, the app's column name) of each key the jobs use."""
    schema: str | None = None
    aware: bool = True
    """Its timestamps are `timestamp with time zone` (PostgreSQL)."""

    @property
    def sql(self) -> str:
        """The table, quoted (and schema-qualified when a rules file names a schema)."""
        return qualified(self.schema, self.name)

    @property
    def fullname(self) -> str:
        """The table as reports show it: `schema.table` when a rules file names a schema."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def c(self, key: str) -> str:
        """The column of `key`, quoted."""
        return quote(dict(self.columns)[key])

    def timestamp(self, dialect: str) -> str:
        """The SQL type a timestamp parameter is cast to for this table's columns (PostgreSQL:
        so a comparison uses the column's index whichever type the column has)."""
        if dialect != "postgresql":
            return ""
        return "timestamptz" if self.aware else "timestamp"


@dataclass(frozen=True)
class AnalyticsNames:
    """The raw events (keys id, occurred_at, event_type, user_id) and the daily figures (day,
    event_type, event_count, unique_users, updated_at)."""

    events: TableName
    daily: TableName


_EVENT_KEYS = ("id", "occurred_at", "event_type", "user_id")
_DAILY_KEYS = ("day", "event_type", "event_count", "unique_users", "updated_at")

DEFAULT_ANALYTICS = AnalyticsNames(
    TableName("analytics_events", tuple((k, k) for k in _EVENT_KEYS)),
    TableName("daily_analytics", tuple((k, k) for k in _DAILY_KEYS)),
)


def _name_of(table: Any, keys: tuple[str, ...], stamp: str) -> TableName:
    aware = bool(getattr(table.c[stamp].type, "timezone", False))
    return TableName(table.name, tuple((k, table.c[k].name) for k in keys), table.schema, aware)


def analytics_names(tables: Any) -> AnalyticsNames:
    """The names of SQLAlchemy tables (cronjobs.retention.tables.AnalyticsTables: the built-in
    ones, or a rules file's reflected ones)."""
    if isinstance(tables, AnalyticsNames):
        return tables
    return AnalyticsNames(
        _name_of(tables.events, _EVENT_KEYS, "occurred_at"),
        _name_of(tables.daily, _DAILY_KEYS, "updated_at"),
    )
