"""A retention rule's tables as cleanup-old-sessions' SQL text names them: plain names, quoted
where they are used (cronjobs.dbapi.quote), no SQLAlchemy.

`DEFAULT_SESSIONS` describes the built-in tables (the default rules, jobs/cronjobs/retention/
models.py) without importing either's SQLAlchemy side; a rules file's tables are reflected and
bound first (cronjobs.retention.rule_tables), then described by `names_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cronjobs.dbapi import qualified, quote
from cronjobs.retention.rules import DEFAULTS, RetentionRule

if TYPE_CHECKING:
    from cronjobs.retention.tables import Retention


@dataclass(frozen=True)
class ChildNames:
    """A child table whose rows go with their parent's: `foreign_key` holds the parent's key."""

    table: str
    foreign_key: str
    schema: str | None = None

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def fk(self) -> str:
        """The foreign key column, qualified by its table."""
        return f"{self.sql}.{quote(self.foreign_key)}"


@dataclass(frozen=True)
class RuleNames:
    """One rule's table, key, age columns and children, by the names the database knows."""

    rule: RetentionRule
    table: str
    primary_key: str
    age: tuple[str, ...]
    mode: str
    """"column", "first_of" or "latest_of" (cronjobs.retention.rules.Age)."""
    children: tuple[ChildNames, ...] = ()
    schema: str | None = None
    stamp: str = "timestamptz"
    """The SQL type the cutoff is cast to on PostgreSQL, so that an index on the age serves the
    comparison: `timestamptz` for an age (its first column) with a time zone, else `timestamp`
    (a `date` is compared as its midnight, as SQLAlchemy's binding of the cutoff did)."""

    @property
    def name(self) -> str:
        """The table as reports show it: `schema.table` when a rules file names a schema."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def pk(self) -> str:
        """The primary key, qualified by its table."""
        return f"{self.sql}.{quote(self.primary_key)}"

    @property
    def days(self) -> int:
        return self.rule.days

    def cutoff(self, days: int | None, now: datetime) -> datetime:
        return self.rule.cutoff(days, now)

    def old(self, dialect: str) -> str:
        """The one predicate "this row is old" (`:cutoff`): the age, the first of its columns
        that is not NULL, or the latest (NULLs ignored, on SQLite too, whose max() of values
        would be NULL if one is)."""
        cols = [f"{self.sql}.{quote(c)}" for c in self.age]
        if self.mode == "column":
            age = cols[0]
        elif self.mode == "first_of":
            age = f"coalesce({', '.join(cols)})"
        elif dialect == "postgresql":
            age = f"greatest({', '.join(cols)})"
        else:
            rotations = [f"coalesce({', '.join(cols[i:] + cols[:i])})" for i in range(len(cols))]
            age = f"max({', '.join(rotations)})"
        cutoff = f"CAST(:cutoff AS {self.stamp})" if dialect == "postgresql" else ":cutoff"
        return f"{age} < {cutoff}"


def _of(rule: RetentionRule, schema: str | None = None, stamp: str = "timestamptz") -> RuleNames:
    children = tuple(ChildNames(c.table, c.foreign_key, schema) for c in rule.children)
    return RuleNames(
        rule, rule.table, rule.primary_key, rule.age.columns, rule.age.mode, children, schema, stamp
    )


DEFAULT_SESSIONS: tuple[RuleNames, ...] = tuple(_of(rule) for rule in DEFAULTS.sessions)
"""cleanup-old-sessions' built-in tables: the default rules on models.py's tables, whose
timestamps are `timestamp with time zone`."""


def _stamp(kind: Any) -> str:
    from sqlalchemy import types

    return "timestamptz" if isinstance(kind, types.DateTime) and kind.timezone else "timestamp"


def names_of(retention: Retention) -> RuleNames:
    """The names of a rule bound to SQLAlchemy tables (cronjobs.retention.tables: the built-in
    ones, or a rules file's reflected ones)."""
    table, rule = retention.table, retention.rule
    age = tuple(table.c[c].name for c in rule.age.columns)
    children = tuple(
        ChildNames(fk.table.name, fk.name, fk.table.schema) for fk in retention.children
    )
    stamp = _stamp(table.c[rule.age.columns[0]].type)
    return RuleNames(
        rule, table.name, table.c.id.name, age, rule.age.mode, children, table.schema, stamp
    )
