"""`cronjobs retention show`: the effective rules and, with a database, what they find there.

Without a database: each rule in words. With one: the schema check's findings, how many rows
(and child rows) each rule would touch now (the dry run's numbers), and the SQL the jobs run,
compiled for that database (parameters shown as placeholders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cronjobs.render import plural
from cronjobs.retention.rules import Age, RetentionRule, Rollup, Rules


def _age_words(age: Age) -> str:
    if age.mode == "column":
        return age.columns[0]
    joined = ", ".join(age.columns)
    return (
        f"the first of {joined} that is set"
        if age.mode == "first_of"
        else f"the latest of {joined}"
    )


def describe(rule: RetentionRule) -> str:
    children = "".join(f"; with {c.table}.{c.foreign_key}" for c in rule.children)
    children += "".join(
        f"; {c.table}.{c.foreign_key} by its ON DELETE CASCADE (uncounted)" for c in rule.cascades
    )
    whole = ", whole UTC days" if rule.whole_days else ""
    return (
        f"{rule.table} (key {rule.primary_key}): older than {plural(rule.days, 'day')} by "
        f"{_age_words(rule.age)}{whole}{children}"
    )


def describe_rollup(r: Rollup) -> str:
    c = r.columns
    return (
        f"{r.source} -> {r.target}: per UTC day of {r.timestamp} ({c['day']}) and {r.group_by} "
        f"({c['group']}): the count ({c['count']}) and distinct {r.distinct} ({c['distinct']})"
    )


@dataclass
class RuleReport:
    job: str
    table: str
    rule: str
    rows: int | None = None
    child_rows: int | None = None
    sql: list[str] = field(default_factory=list)


@dataclass
class RetentionReport:
    source: str
    rules: list[RuleReport]
    rollup: str
    rollup_sql: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    database: str | None = None
    schema: str | None = None
    """The rules' PostgreSQL schema (None: the connection's default)."""

    @property
    def exit_code(self) -> int:
        return 2 if any(f.startswith("error") for f in self.findings) else 0

    def lines(self) -> list[str]:
        out = [f"rules: {self.source}"]
        if self.schema:
            out.append(f"schema: {self.schema} (PostgreSQL: every table below is in it)")
        if self.database:
            out.append(f"database: {self.database}")
        for r in self.rules:
            out.append(f"{r.job}: {r.rule}")
            if r.rows is not None:
                children = f" and {plural(r.child_rows or 0, 'child row')}" if r.child_rows else ""
                out.append(f"  would touch now: {plural(r.rows, 'row')}{children}")
            out += [f"  sql: {s}" for s in r.sql]
        out.append(f"rollup: {self.rollup}")
        out += [f"  sql: {s}" for s in self.rollup_sql]
        out += self.findings or (["check: the rules match the database"] if self.database else [])
        return out


def report(rules: Rules, engine: Any | None = None, now: datetime | None = None) -> RetentionReport:
    """The rules, and with an engine their findings, counts and SQL there."""
    entries = [RuleReport(r.job, r.table, describe(r)) for r in (*rules.sessions, rules.analytics)]
    result = RetentionReport(rules.source, entries, describe_rollup(rules.rollup))
    result.schema = rules.schema
    if engine is None:
        return result
    from cronjobs.database import describe as where
    from cronjobs.retention import schema_check

    result.database = where(engine)
    findings = schema_check.check(engine, rules)
    result.findings = [f"{f.level}: {f}" for f in findings]
    if any(f.level == "error" for f in findings):
        return result
    _measure(result, rules, engine, now or datetime.now(UTC))
    return result


def _measure(result: RetentionReport, rules: Rules, engine: Any, now: datetime) -> None:
    from cronjobs.builtin import analytics_sql
    from cronjobs.builtin.analytics import upsert_sql
    from cronjobs.builtin.analytics_cleanup import cutoff_of, inventory
    from cronjobs.retention import rule_tables
    from cronjobs.retention.names import analytics_names
    from cronjobs.retention.purge import count_old
    from cronjobs.retention.purge_sql import delete_ids_sqlite, keyset
    from cronjobs.retention.purge_sql import range_batch as range_sql
    from cronjobs.retention.rule_names import names_of

    dialect = engine.dialect

    def sql(statement: Any) -> str:
        text = " ".join(str(statement.compile(dialect=dialect)).split())
        return re.sub(r"__\[POSTCOMPILE_(\w+)\]", r":\1", text)  # an expanding IN's ids

    sessions = rule_tables.sessions(engine, rules)
    analytics_rule, tables = rule_tables.analytics(engine, rules)
    with engine.connect() as conn:
        for entry, rule in zip(result.rules, (*sessions, analytics_rule), strict=True):
            cutoff = rule.cutoff(None, now)
            if rule is analytics_rule:
                names = analytics_names(tables)
                found = inventory(conn, cutoff_of(rule, rule.days, now), names)
                entry.rows = sum(sum(t.values()) for t in found.events.values())
                entry.sql = [" ".join(s.split()) for s in analytics_sql.shown(names, dialect.name)]
                continue
            table_names = names_of(rule)  # the SQL text the job sends, its parameters as :name
            entry.rows, entry.child_rows = count_old(conn, table_names, cutoff)
            if dialect.name == "postgresql":
                entry.sql = [range_sql(table_names, after=True)]
                continue
            entry.sql = [keyset(table_names, dialect.name, after=True)]
            entry.sql += list(delete_ids_sqlite(table_names, 2))
    result.rollup_sql = [upsert_sql(analytics_names(tables), dialect.name)]
