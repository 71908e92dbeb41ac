"""What else a retention rule's deletes reach: the foreign keys that point *at* the tables it
deletes from, followed down (a key's ON DELETE CASCADE deletes rows that have keys of their own).

A rule deletes its table's old rows and, with them, its declared `children`' rows (batched and
counted). Any other row the database deletes on the way is one the rules do not name:

- ON DELETE CASCADE into a table the rule does not declare: an error, unless the rule lists
  the key in `cascades` (then the database deletes those rows, uncounted). A key of the rule's
  table to itself is the same (its cascade takes rows however recent, with their old parent).
- ON DELETE SET NULL / SET DEFAULT: a warning (the rows stay; the key is changed).
- NO ACTION / RESTRICT: a warning: an old row that such rows still refer to cannot be deleted,
  and every run stops at it until they are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cronjobs.dbapi import quote
from cronjobs.dblike import on
from cronjobs.errors import ConfigError
from cronjobs.retention.finding import Finding
from cronjobs.retention.rules import Child, RetentionRule, Rules

if TYPE_CHECKING:
    from cronjobs.retention.reflect import Schema

_PG_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_REFERENCING_PG = """
    SELECT n.nspname, cl.relname, c.confdeltype,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
                 ORDER BY k.i) AS columns
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = cl.relnamespace
    WHERE c.contype = 'f' AND c.confrelid = to_regclass(:qualified) AND c.conparentid = 0
    ORDER BY cl.relname, c.conname
"""


@dataclass(frozen=True)
class Reference:
    """A foreign key that points at a table: from `table`(`columns`), with its ON DELETE."""

    table: str
    columns: tuple[str, ...]
    on_delete: str
    schema: str | None = None
    """None: the rules' schema (or the connection's default); else the table's own schema."""

    @property
    def name(self) -> str:
        where = f"{self.schema}.{self.table}" if self.schema else self.table
        return f"{where}.{','.join(self.columns)}"

    def is_(self, entry: Child) -> bool:
        return self.schema is None and (self.table, self.columns) == (
            entry.table,
            (entry.foreign_key,),
        )


class Catalog:
    """The foreign keys of the database read with SQL text on a connection (a `Db`, or a
    SQLAlchemy Connection): the built-in rules' check on the run's own connection."""

    def __init__(self, conn: Any, schema: str | None = None) -> None:
        self.db = on(conn)
        self.schema = schema
        self._ours: str | None = schema
        self._tables: list[str] | None = None

    def referencing(self, table: str) -> list[Reference]:
        return _references(self.db, table, self._default_schema, self._sqlite_tables, self.schema)

    def _default_schema(self) -> str:
        if self._ours is None:
            self._ours = str(self.db.scalar("SELECT current_schema()"))
        return self._ours

    def _sqlite_tables(self) -> Iterable[str]:
        if self._tables is None:
            query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
            self._tables = [str(n) for n in self.db.scalars(query)]
        return self._tables


def referencing(schema: Schema | Catalog, table: str) -> list[Reference]:
    """Every foreign key that points at `table` (PostgreSQL: from any schema; a partitioned
    table's key once, not once per partition)."""
    if isinstance(schema, Catalog):
        return schema.referencing(table)
    reflected = schema
    with reflected.engine.connect() as conn:
        return _references(
            on(conn),
            table,
            lambda: reflected.schema or reflected.inspector.default_schema_name,
            reflected.tables,
            reflected.schema,
        )


def _references(
    db: Any,
    table: str,
    ours: Callable[[], str | None],
    tables: Callable[[], Iterable[str]],
    schema: str | None = None,
) -> list[Reference]:
    """The keys pointing at `table` (in `schema`): PostgreSQL's catalog (`ours()`: the rules'
    schema, whose tables the rules name bare), or each SQLite table's (`tables()`) PRAGMA."""
    if db.dialect == "postgresql":
        qualified = (f"{quote(schema)}." if schema else "") + quote(table)
        rows = db.rows(_REFERENCING_PG, {"qualified": qualified})
        own = ours()
        return [
            Reference(name, tuple(cols), _PG_ACTIONS[action], None if nsp == own else nsp)
            for nsp, name, action, cols in rows
        ]
    found: list[Reference] = []
    for child in sorted(tables()):
        keys: dict[int, tuple[str, list[str], str]] = {}
        for row in db.rows(f"PRAGMA foreign_key_list({quote(child)})"):
            key_id, referred, column, on_delete = row[0], row[2], row[3], row[6]
            keys.setdefault(key_id, (referred, [], on_delete))[1].append(column)
        for referred, columns, on_delete in keys.values():
            if referred.lower() == table.lower():  # SQLite: names are case-insensitive
                found.append(Reference(child, tuple(columns), str(on_delete).upper()))
    return found


def require_none_hidden(conn: Any, rules: Rules, job: str | None) -> list[Finding]:
    """The built-in rules' one check on the app's database (the rest holds for the built-in
    tables), with SQL text on `conn` (a `Db`, or a SQLAlchemy Connection): no foreign key ON
    DELETE CASCADE the rules do not name reaches what the cleanup `job` deletes. A ConfigError
    (exit 2) lists the errors; the warnings are returned."""
    catalog = Catalog(conn, rules.schema)
    found: list[Finding] = []
    if job in (None, "cleanup-old-sessions"):
        for rule in rules.sessions:
            found += findings(catalog, rule)
    if job in (None, "cleanup-old-analytics"):
        found += findings(catalog, rules.analytics)
    return raise_errors(rules, sorted(found, key=lambda f: f.level != "error"))


def raise_errors(rules: Rules, found: list[Finding]) -> list[Finding]:
    """A ConfigError (exit 2) listing the errors among `found`; else the warnings."""
    errors = [f for f in found if f.level == "error"]
    if errors:
        listed = "; ".join(str(f) for f in errors)
        raise ConfigError(
            f"the retention rules ({rules.source}) do not match the database: {listed}. Fix the "
            "rules file (CRONJOBS_RULES) or the schema; nothing was touched"
        )
    return found


def _entry(ref: Reference) -> str:
    return f'{{ table = "{ref.table}", foreign_key = "{ref.columns[0]}" }}'


def findings(schema: Schema | Catalog, rule: RetentionRule) -> list[Finding]:
    """What the rule's deletes reach beyond what it declares (see the module's doc)."""
    out: list[Finding] = []
    walked: set[tuple[str, bool]] = set()
    used: set[Child] = set()

    def walk(parent: str, depth: int) -> None:
        if (parent, depth == 1) in walked:  # the rule's table is walked twice when it is its
            return  # own child: once for its old rows, once for the children's
        walked.add((parent, depth == 1))
        for ref in referencing(schema, parent):
            if depth == 1 and any(ref.is_(c) for c in rule.children):
                continue  # deleted by the rule itself, batched and counted (its own keys below)
            used.update(c for c in rule.cascades if ref.is_(c) and ref.on_delete == "CASCADE")
            finding = _finding(ref, parent, rule, depth)
            if finding is not None:
                out.append(Finding(finding[0], rule.where, ref.table, ",".join(ref.columns),
                                   finding[1]))  # fmt: skip
            if ref.on_delete == "CASCADE" and ref.schema is None:
                walk(ref.table, depth + 1)  # its rows go too: so do theirs

    walk(rule.table, 1)
    for child in rule.children:
        walk(child.table, 2)
    for entry in rule.cascades:
        if entry not in used:
            out.append(
                Finding("error", rule.where, entry.table, entry.foreign_key,
                        "is listed in `cascades`, but no ON DELETE CASCADE key from it reaches "
                        "the rows this rule deletes: fix the entry or drop it")
            )  # fmt: skip
    return out


def _finding(
    ref: Reference, parent: str, rule: RetentionRule, depth: int
) -> tuple[str, str] | None:
    """(level, message) for one key that points at a table whose rows the rule deletes."""
    goes = (
        f"an old {parent} row"
        if depth == 1
        else f"a {parent} row (deleted with an old {rule.table} row)"
    )
    if ref.on_delete == "CASCADE":
        if any(ref.is_(c) for c in rule.cascades):
            return None  # named by the rule: the database deletes them, uncounted
        self_ref = ref.schema is None and ref.table == rule.table
        if self_ref:
            reach = (
                f"refers to {parent} ON DELETE CASCADE: deleting {goes} also deletes the "
                f"{ref.table} rows that refer to it, however recent (and theirs, down the tree), "
                "which the rule's age would keep. Make the key ON DELETE SET NULL (they stay) or "
                "RESTRICT, or, to delete them anyway, add "
                f"`cascades = [{_entry(ref)}]` to the rule (uncounted)"
            )
        elif ref.schema is not None:
            reach = (
                f"refers to {parent} ON DELETE CASCADE from another schema: deleting {goes} "
                f"deletes its {ref.table} rows too, which the rules cannot name; make the key "
                "ON DELETE RESTRICT or SET NULL, or leave this table out of the rules"
            )
        elif depth == 1:
            reach = (
                f"refers to {parent} ON DELETE CASCADE: deleting {goes} would delete its "
                f"{ref.table} rows too, uncounted, and the rules do not name them. Add "
                f"`children = [{_entry(ref)}]` to the rule (deleted in the same batch and "
                f"counted), or `cascades = [{_entry(ref)}]` to let the database delete them "
                "(uncounted)"
            )
        else:
            reach = (
                f"refers to {parent} ON DELETE CASCADE: deleting {goes} would delete its "
                f"{ref.table} rows too, uncounted, and the rules do not name them (children are "
                f"one level deep). Add `cascades = [{_entry(ref)}]` to the rule to let the "
                "database delete them (uncounted), or make the key ON DELETE RESTRICT or SET NULL"
            )
        return "error", reach
    if ref.on_delete in ("SET NULL", "SET DEFAULT"):
        return "warning", (
            f"refers to {parent} ON DELETE {ref.on_delete}: deleting {goes} changes its "
            f"{ref.table} rows' {','.join(ref.columns)} (the rows stay)"
        )
    declare = (
        f"add `children = [{_entry(ref)}]` to the rule to delete them with it"
        if depth == 1 and ref.schema is None and len(ref.columns) == 1
        else f"delete those {ref.table} rows in the app first"
    )
    return "warning", (
        f"refers to {parent} ON DELETE {ref.on_delete}: {goes} that {ref.table} rows still refer "
        f"to cannot be deleted, and every run stops with an error at it; {declare}"
    )
