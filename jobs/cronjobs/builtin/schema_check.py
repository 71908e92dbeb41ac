"""The retention rules checked against the live database, and turned into SQLAlchemy objects.

`check(engine, rules)` reflects the schema (tables, columns, types, keys, indexes) and returns
what is wrong: an error (a missing table or column, a timestamp that is not a timestamp, a child
foreign key that points elsewhere or that no constraint declares, a foreign key ON DELETE CASCADE
that would delete rows the rules do not name (jobs/cronjobs/builtin/cascades.py), no unique key for the
roll-up's upsert) stops every job with exit 2 before it touches a row; a warning says where a rule will be
slow and which index helps.
`tables(engine, rules)` gives the reflected Table objects the jobs build their statements from:
names are always quoted by SQLAlchemy, never pasted into SQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Engine, MetaData, Table, exc, func, inspect, text
from sqlalchemy import types as sqltypes

from cronjobs.builtin import cascades
from cronjobs.builtin.rules import Age, Child, RetentionRule, Rollup, Rules
from cronjobs.errors import ConfigError


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    rule: str
    table: str
    column: str | None
    message: str

    def __str__(self) -> str:
        at = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.rule}: {at}: {self.message}"


_NOT_TEXT = (
    "holds values that are not text (epoch numbers?): SQLite would compare them with the cutoff "
    "by type, not by time, and every row would look old; store timestamps as ISO text"
)


@contextmanager
def _expression_indexes_unread() -> Iterator[None]:
    """SQLite's expression indexes are not reflected (a warning): `expression_indexes` reads
    their CREATE INDEX text instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", exc.SAWarning)
        yield


def _ascii_lower(name: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in name)


def _is_time(kind: Any) -> bool:
    return isinstance(kind, sqltypes.DateTime | sqltypes.Date)


class _Schema:
    """One inspector's answers, each asked once."""

    def __init__(self, engine: Engine, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.inspector = inspect(engine)
        if schema is not None and engine.dialect.name != "postgresql":
            raise ConfigError(
                f"the rules file names schema {schema!r}: schemas are for PostgreSQL; on "
                f"{engine.dialect.name} drop the `schema` key"
            )
        if schema is not None and schema not in self.inspector.get_schema_names():
            raise ConfigError(
                f"the rules file names schema {schema!r}, which this database does not have "
                "(names are exact): create it, or fix `schema`"
            )
        self._tables = set(self.inspector.get_table_names(schema=schema))
        self._columns: dict[str, dict[str, Any]] = {}
        self._indexes: dict[str, list[dict[str, Any]]] = {}

    def indexes(self, table: str) -> list[dict[str, Any]]:
        if table not in self._indexes:
            with _expression_indexes_unread():
                self._indexes[table] = [
                    dict(i) for i in self.inspector.get_indexes(table, schema=self.schema)
                ]
        return self._indexes[table]

    def has(self, table: str) -> bool:
        return table in self._tables

    def tables(self) -> set[str]:
        return set(self._tables)

    def near(self, table: str) -> str:
        """A hint when the table exists under another case (PostgreSQL folds unquoted names
        to lower case; the rules file's names are exact)."""
        same = [t for t in self._tables if t.lower() == table.lower()]
        return f" (did you mean {same[0]!r}? names are exact)" if same else ""

    def q(self, name: str) -> str:
        """A name as this database's SQL needs it (quoted when it must be)."""
        return str(self.engine.dialect.identifier_preparer.quote(name))

    def qt(self, table: str) -> str:
        """A table's name as SQL needs it, in the rules' schema if they name one."""
        return f"{self.q(self.schema)}.{self.q(table)}" if self.schema else self.q(table)

    def columns(self, table: str) -> dict[str, Any]:
        if table not in self._columns:
            found = self.inspector.get_columns(table, schema=self.schema)
            self._columns[table] = {c["name"]: c["type"] for c in found}
        return self._columns[table]

    def not_text(self, table: str, column: str) -> bool:
        """SQLite only: whether the column holds values that are not text (epoch numbers, say),
        which compare with a text cutoff by type, not by time."""
        if self.engine.dialect.name != "sqlite":
            return False
        t, c = (self.engine.dialect.identifier_preparer.quote(n) for n in (table, column))
        query = text(f"SELECT 1 FROM {t} WHERE typeof({c}) NOT IN ('text', 'null') LIMIT 1")
        with self.engine.connect() as conn:  # names quoted by the dialect's own preparer
            return conn.scalar(query) is not None

    def leading_index_columns(self, table: str) -> set[str]:
        found = set()
        for index in self.indexes(table):
            names = index.get("column_names") or []
            if names and names[0]:
                found.add(names[0])
        constraint = self.inspector.get_pk_constraint(table, schema=self.schema)
        pk = constraint.get("constrained_columns") or []
        return found | set(pk[:1])

    def expression_indexes(self, table: str) -> list[str]:
        if self.engine.dialect.name == "sqlite":  # not reflected: its CREATE INDEX text
            query = text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
            with self.engine.connect() as conn:
                return [str(sql) for sql in conn.scalars(query, {"t": table}) if sql]
        return [" ".join(str(e) for e in i.get("expressions") or []) for i in self.indexes(table)]

    def foreign_keys(self, table: str) -> list[dict[str, Any]]:
        """The table's declared foreign keys, `referred_schema` None for a referred table in the
        rules' schema (without one, the connection's default schema), "" for one in another
        schema on the search_path, else that schema's name."""
        if self.engine.dialect.name != "postgresql":
            return [dict(f) for f in self.inspector.get_foreign_keys(table, schema=self.schema)]
        # Given a schema, SQLAlchemy gives it as the referred one exactly when it is (None: some
        # other schema on the search_path). Without one, ignoring the search_path gives every
        # schema but the default: a table of the same name elsewhere on it is not ours.
        found = self.inspector.get_foreign_keys(
            table, schema=self.schema, postgresql_ignore_search_path=self.schema is None
        )
        ours = {self.schema} if self.schema else {None, self.inspector.default_schema_name}

        def where(referred: str | None) -> str | None:
            return None if referred in ours else referred or ""

        return [{**f, "referred_schema": where(f["referred_schema"])} for f in found]

    def refers_to(self, fk: dict[str, Any], table: str, column: str) -> bool:
        """Whether a reflected foreign key refers to exactly `table`(`column`) of the rules'
        schema (SQLite's names are ASCII-case-insensitive: `REFERENCES chat_Sessions` is it)."""
        if fk.get("referred_schema") is not None:
            return False
        named = (fk["referred_table"], *fk["referred_columns"])
        if self.engine.dialect.name == "sqlite":
            return tuple(map(_ascii_lower, named)) == (_ascii_lower(table), _ascii_lower(column))
        return named == (table, column)

    def unique_keys(self, table: str) -> list[set[str]]:
        pk = self.inspector.get_pk_constraint(table, schema=self.schema)
        keys = [set(pk.get("constrained_columns") or [])]
        with _expression_indexes_unread():  # SQLite reads its indexes for these
            unique = self.inspector.get_unique_constraints(table, schema=self.schema)
        keys += [set(u["column_names"]) for u in unique]
        keys += [
            set(i["column_names"])
            for i in self.indexes(table)
            if i.get("unique") and None not in (i.get("column_names") or [None])
        ]
        return [k for k in keys if k]


def check(engine: Engine, rules: Rules, job: str | None = None) -> list[Finding]:
    """Every problem of the rules on this database (errors first): of the rules `job` uses
    (cleanup-old-sessions, cleanup-old-analytics, aggregate-daily-analytics), or of all."""
    schema = _Schema(engine, rules.schema)
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


def require_no_hidden_cascades(engine: Engine, rules: Rules, job: str | None) -> list[Finding]:
    """The built-in rules' one check on the app's database (the rest holds for the built-in
    tables): no foreign key ON DELETE CASCADE the rules do not name reaches what the cleanup
    `job` deletes. A ConfigError (exit 2) lists the errors; the warnings are returned."""
    schema = _Schema(engine, rules.schema)
    findings: list[Finding] = []
    if job in (None, "cleanup-old-sessions"):
        for rule in rules.sessions:
            findings += cascades.findings(schema, rule)
    if job in (None, "cleanup-old-analytics"):
        findings += cascades.findings(schema, rules.analytics)
    return _raise_errors(rules, sorted(findings, key=lambda f: f.level != "error"))


def _raise_errors(rules: Rules, findings: list[Finding]) -> list[Finding]:
    errors = [f for f in findings if f.level == "error"]
    if errors:
        listed = "; ".join(str(f) for f in errors)
        raise ConfigError(
            f"the retention rules ({rules.source}) do not match the database: {listed}. Fix the "
            "rules file (CRONJOBS_RULES) or the schema; nothing was touched"
        )
    return findings


def _check_rule(schema: _Schema, rule: RetentionRule) -> list[Finding]:
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


def _age_index(schema: _Schema, rule: RetentionRule) -> list[Finding]:
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


def _age_sql(schema: _Schema, age: Age) -> str:
    joined = ", ".join(schema.q(c) for c in age.columns)
    if age.mode == "first_of":
        return f"coalesce({joined})"
    return f"greatest({joined})" if schema.engine.dialect.name == "postgresql" else f"max({joined})"


def _check_child(schema: _Schema, rule: RetentionRule, child: Child) -> list[Finding]:
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


def _check_rollup(schema: _Schema, rollup: Rollup) -> list[Finding]:
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
