"""The retention rules checked against the live database, and turned into SQLAlchemy objects.

`check(engine, rules)` reflects the schema (tables, columns, types, keys, indexes) and returns
what is wrong: an error (a missing table or column, a timestamp that is not a timestamp, a child
foreign key that points elsewhere or that no constraint declares, a foreign key ON DELETE CASCADE
that would delete rows the rules do not name (jobs/cronjobs/retention/cascades.py), no unique key for the
roll-up's upsert) stops every job with exit 2 before it touches a row; a warning says where a rule will be
slow and which index helps.
`tables(engine, rules)` gives the reflected Table objects the jobs build their statements from:
names are always quoted by SQLAlchemy, never pasted into SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, MetaData, Table
from sqlalchemy import types as sqltypes

from cronjobs.retention import cascades
from cronjobs.retention.reflect import Finding, Schema
from cronjobs.retention.rules import Age, Child, RetentionRule, Rollup, Rules

_NOT_TEXT = (
    "holds values that are not text (epoch numbers?): SQLite would compare them with the cutoff "
    "by type, not by time, and every row would look old; store timestamps as ISO text"
)


def _is_time(kind: Any) -> bool:
    return isinstance(kind, sqltypes.DateTime | sqltypes.Date)


def check(engine: Engine, rules: Rules, job: str | None = None) -> list[Finding]:
    """Every problem of the rules on this database (errors first): of the rules `job` uses
    (cleanup-old-sessions, cleanup-old-analytics, aggregate-daily-analytics), or of all."""
    schema = Schema(engine, rules.schema)
    findings: list[Finding] = []
    if job in (None, "cleanup-old-sessions"):
        for rule in rules.sessions:
            findings += _check_rule(schema, rule)
    if job in (None, "cleanup-old-analytics"):
        findings += _check_rule(schema, rules.analytics)
    if job in (None, "cleanup-old-analytics", "aggregate-daily-analytics"):
        findings += _check_rollup(schema, rules.rollup)
    return sorted(findings, key=lambda f: f.level != "error")


def require_valid(engine: Engine, rules: Rules, job: str | None = None) -> list[Finding]:
    """`check`, raising a ConfigError (exit 2) that lists the errors; the warnings returned."""
    return _raise_errors(rules, check(engine, rules, job))


def _raise_errors(rules: Rules, findings: list[Finding]) -> list[Finding]:
    return cascades.raise_errors(rules, findings)


def _check_rule(schema: Schema, rule: RetentionRule) -> list[Finding]:
    name, table = rule.where, rule.table
    if not schema.has(table):
        return [Finding("error", name, table, None, f"no such table{schema.near(table)}")]
    out = []
    columns = schema.columns(table)
    if rule.primary_key not in columns:
        out.append(Finding("error", name, table, rule.primary_key, "no such column (primary_key)"))
    elif not isinstance(columns[rule.primary_key], sqltypes.Integer):
        kind = columns[rule.primary_key]
        out.append(
            Finding("error", name, table, rule.primary_key,
                    f"is {kind}, not an integer: the cleanup walks the primary key in ranges of "
                    "integer ids")
        )  # fmt: skip
    for column in rule.age.columns:
        if column not in columns:
            out.append(Finding("error", name, table, column, "no such column (age)"))
        elif not _is_time(columns[column]):
            out.append(
                Finding("error", name, table, column, f"is {columns[column]}, not a timestamp")
            )
        elif schema.not_text(table, column):
            out.append(Finding("error", name, table, column, _NOT_TEXT))
    if not out:
        out += _age_index(schema, rule)
    for child in rule.children:
        out += _check_child(schema, rule, child)
    if not any(f.level == "error" for f in out):
        out += cascades.findings(schema, rule)  # what else its deletes reach
    return out


def _age_index(schema: Schema, rule: RetentionRule) -> list[Finding]:
    cols = rule.age.columns
    if len(cols) == 1:
        if cols[0] in schema.leading_index_columns(rule.table):
            return []
        hint = f"CREATE INDEX ON {schema.qt(rule.table)} ({schema.q(cols[0])})"
    else:
        if any(all(c in e for c in cols) for e in schema.expression_indexes(rule.table)):
            return []
        hint = f"CREATE INDEX ON {schema.qt(rule.table)} (({_age_sql(schema, rule.age)}))"
    return [
        Finding(
            "warning", rule.where, rule.table, ", ".join(cols),
            f"no index on the age: each batch scans the table; {hint} would help",
        )
    ]  # fmt: skip


def _age_sql(schema: Schema, age: Age) -> str:
    joined = ", ".join(schema.q(c) for c in age.columns)
    if age.mode == "first_of":
        return f"coalesce({joined})"
    return f"greatest({joined})" if schema.engine.dialect.name == "postgresql" else f"max({joined})"


def _check_child(schema: Schema, rule: RetentionRule, child: Child) -> list[Finding]:
    """A child is deleted by `fk IN (the parent ids deleted)`: only a declared foreign key
    constraint from `fk` to the parent's primary key makes sure those are the parent's rows,
    so without one the rule is refused (a wrong column would delete other parents' rows),
    unless the rules file says `undeclared = true` for it (then a warning)."""
    table, fk = child.table, child.foreign_key
    name, parent = rule.where, f"{rule.table}.{rule.primary_key}"
    if not schema.has(table):
        return [Finding("error", name, table, None, "no such table (child)")]
    if fk not in schema.columns(table):
        return [Finding("error", name, table, fk, "no such column (child foreign_key)")]
    out = []
    declared = [f for f in schema.foreign_keys(table) if f["constrained_columns"] == [fk]]
    if not declared and child.undeclared:
        out.append(
            Finding("warning", name, table, fk,
                    f"no foreign key constraint declares that it refers to {parent} "
                    "(`undeclared = true`): make sure it holds the parent's ids")
        )  # fmt: skip
    elif not declared:
        out.append(
            Finding("error", name, table, fk,
                    f"the database declares no foreign key constraint from {table}.{fk} to "
                    f"{parent}: the cleanup would delete every {table} row whose {fk} equals a "
                    f"deleted {rule.table} row's {rule.primary_key}, whichever parent it has; "
                    f"declare the foreign key in the app's schema (FOREIGN KEY ({schema.q(fk)}) "
                    f"REFERENCES {schema.qt(rule.table)} ({schema.q(rule.primary_key)})), "
                    "fix `foreign_key` to name the column that holds the parent's ids, or, if it "
                    "does hold them, add `undeclared = true` to this child")
        )  # fmt: skip
    elif not any(schema.refers_to(f, rule.table, rule.primary_key) for f in declared):
        f = declared[0]
        target = f"{f['referred_table']}.{','.join(f['referred_columns'])}"
        if f["referred_schema"] is not None:
            target = f"{f['referred_schema']}.{target}" if f["referred_schema"] else target
            target += "" if f["referred_schema"] else " in another schema on the search_path"
        out.append(Finding("error", name, table, fk, f"points at {target}, not {parent}"))
    elif {rule.primary_key} not in schema.unique_keys(rule.table):
        out.append(
            Finding("error", name, rule.table, rule.primary_key,
                    f"is not the primary key (nor a unique key) of {rule.table}: the children of "
                    f"a kept row with the same {rule.primary_key} would be deleted too; make "
                    "`primary_key` the table's primary key")
        )  # fmt: skip
    if fk not in schema.leading_index_columns(table):
        out.append(
            Finding("warning", name, table, fk,
                    f"no index on the child's foreign key: each batch scans {table}; "
                    f"CREATE INDEX ON {schema.qt(table)} ({schema.q(fk)}) would help")
        )  # fmt: skip
    return out


def _check_rollup(schema: Schema, rollup: Rollup) -> list[Finding]:
    name = "rollup"
    out = []
    if not schema.has(rollup.source):
        out.append(Finding("error", name, rollup.source, None,
                           f"no such table (source){schema.near(rollup.source)}"))  # fmt: skip
    else:
        columns = schema.columns(rollup.source)
        for role in ("timestamp", "group_by", "distinct"):
            column = getattr(rollup, role)
            if column not in columns:
                out.append(
                    Finding("error", name, rollup.source, column, f"no such column ({role})")
                )
        if rollup.timestamp in columns and schema.not_text(rollup.source, rollup.timestamp):
            out.append(Finding("error", name, rollup.source, rollup.timestamp, _NOT_TEXT))
        if rollup.timestamp in columns and not _is_time(columns[rollup.timestamp]):
            kind = columns[rollup.timestamp]
            out.append(
                Finding(
                    "error", name, rollup.source, rollup.timestamp, f"is {kind}, not a timestamp"
                )
            )
    if not schema.has(rollup.target):
        out.append(Finding("error", name, rollup.target, None,
                           f"no such table (target){schema.near(rollup.target)}"))  # fmt: skip
        return out
    columns = schema.columns(rollup.target)
    for role, column in rollup.columns.items():
        if column not in columns:
            out.append(Finding("error", name, rollup.target, column, f"no such column ({role})"))
    key = {rollup.columns["day"], rollup.columns["group"]}
    if key <= set(columns) and key not in schema.unique_keys(rollup.target):
        out.append(
            Finding("error", name, rollup.target, None,
                    f"no primary key or unique constraint on exactly ({', '.join(sorted(key))}): "
                    "the roll-up's upsert needs one")
        )  # fmt: skip
    return out


def tables(engine: Engine, names: Iterable[str]) -> dict[str, Table]:
    """The named tables, reflected (real types, quoted names)."""
    meta = MetaData()
    return {name: Table(name, meta, autoload_with=engine) for name in dict.fromkeys(names)}
