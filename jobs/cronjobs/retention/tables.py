"""The retention rules on tables: a `Retention` is one rule (jobs/cronjobs/retention/rules.py,
the one model, with the one set of defaults) bound to SQLAlchemy objects the jobs build their
statements from, with the one predicate that says a row is old.

The built-in tables' bindings (`SESSIONS`, `ANALYTICS_EVENTS`, `DEFAULT_TABLES`) are the default
rules on jobs/cronjobs/retention/models.py; a rules file's are reflected from the app's schema
(jobs/cronjobs/retention/rule_tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, func

from cronjobs.retention.models import analytics_events, daily_analytics, metadata
from cronjobs.retention.rules import DEFAULTS, Age, RetentionRule


@dataclass(frozen=True)
class Retention:
    rule: RetentionRule
    table: Table
    age_of: ColumnElement[Any]
    """The expression a row's age is measured on (the rule's `age`)."""
    children: tuple[Column[Any], ...] = ()
    """Foreign-key columns of child rows deleted in the same transaction as their parent
    (explicitly, so it works whether or not the database enforces ON DELETE CASCADE)."""

    @property
    def days(self) -> int:
        return self.rule.days

    @property
    def whole_days(self) -> bool:
        """Round the cutoff down to midnight UTC, so a day is deleted whole or not at all."""
        return self.rule.whole_days

    @property
    def name(self) -> str:
        """The table's name as reports show it: `schema.table` when a rules file names one."""
        return str(self.table.fullname)

    def cutoff(self, days: int | None, now: datetime) -> datetime:
        """Rows older than this are old: `days` (default: the rule's) before `now`."""
        return self.rule.cutoff(days, now)

    def old(self, cutoff: datetime) -> ColumnElement[bool]:
        """Is this row old: the one predicate every statement of the cleanups uses."""
        return self.age_of < cutoff


def age_expression(table: Table, age: Age, dialect: str) -> ColumnElement[Any]:
    """What a row's age is measured on: one column, the first that is not NULL, or the latest
    (NULLs ignored, on SQLite too, whose max() would return NULL)."""
    cols: list[Column[Any]] = [table.c[c] for c in age.columns]
    if age.mode == "column":
        return cols[0]
    if age.mode == "first_of":
        return func.coalesce(*cols)
    if dialect == "postgresql":
        return func.greatest(*cols)
    rotations = [func.coalesce(*cols[i:], *cols[:i]) for i in range(len(cols))]
    return func.max(*rotations)


def bind(
    rule: RetentionRule, table: Table, children: tuple[Column[Any], ...], dialect: str = ""
) -> Retention:
    """The rule on these tables (the children's foreign-key columns in the rule's order)."""
    return Retention(rule, table, age_expression(table, rule.age, dialect), children)


@dataclass(frozen=True)
class AnalyticsTables:
    """The raw events and the daily figures. Their columns are reached by these keys whatever
    the app calls them (cronjobs.retention.rule_tables maps a rules file's names onto them):
    events `id`, `occurred_at`, `event_type`, `user_id`; daily `day`, `event_type`,
    `event_count`, `unique_users`, `updated_at`."""

    events: Table
    daily: Table


def _built_in(rule: RetentionRule) -> Retention:
    tables = metadata.tables
    children = tuple(tables[c.table].c[c.foreign_key] for c in rule.children)
    return bind(rule, tables[rule.table], children)


SESSIONS: tuple[Retention, ...] = tuple(_built_in(rule) for rule in DEFAULTS.sessions)
ANALYTICS_EVENTS = _built_in(DEFAULTS.analytics)
DEFAULT_TABLES = AnalyticsTables(analytics_events, daily_analytics)
