"""A database error, from psycopg, sqlite3 or SQLAlchemy alike, as a JobError that says what to do.

The drivers' exceptions follow the DB-API's names (OperationalError, ProgrammingError,
IntegrityError, under DatabaseError), and SQLAlchemy's wrap the driver's as `.orig` under the
same names: errors are told apart by those names, so this module imports no driver and no
SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from cronjobs.errors import ConfigError, DependencyError, JobError

# SQLite: `no such table: x`, `no such column: x`; PostgreSQL (UndefinedTable, UndefinedColumn):
# `relation "x" does not exist`, `column "x" does not exist`, `column x.y does not exist`.
_MISSING = (
    re.compile(r"no such (?P<what>table|column): (?P<name>\S+)"),
    re.compile(r"(?P<what>relation|column) (?P<name>\"[^\"]+\"|\S+) does not exist"),
)
# libpq's words for a connection option it does not know or a value it does not take.
_BAD_OPTION = re.compile(r'invalid connection option "|invalid \w+ value: |for connection option "')
_FK_VIOLATION = "23503"
LOCK_NOT_AVAILABLE = "55P03"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"

P = ParamSpec("P")
R = TypeVar("R")


def _kinds(e: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(e).__mro__}


def is_database_error(e: BaseException) -> bool:
    """Whether `e` is a driver's (DB-API) or SQLAlchemy's error."""
    return bool(_kinds(e) & {"DatabaseError", "InterfaceError", "SQLAlchemyError"})


def sqlstate(e: BaseException) -> str | None:
    """The SQLSTATE of a driver's error (or of the driver error a SQLAlchemy error wraps)."""
    if not is_database_error(e):
        return None
    return getattr(getattr(e, "orig", None) or e, "sqlstate", None)


def is_refused(e: BaseException) -> bool:
    """Whether `e` says the database or a pool refused a connection (rather than a bug)."""
    return bool(_kinds(e) & {"OperationalError", "TimeoutError"})


def _missing(reason: str) -> str | None:
    """`table x` or `column y` when the error says the schema lacks it."""
    for pattern in _MISSING:
        if m := pattern.search(reason):
            what = "table" if m.group("what") == "relation" else m.group("what")
            return f"{what} {m.group('name')}"
    return None


def _first_line(e: BaseException) -> str:
    return " ".join(str(e).strip().split("\n")[0].split())


def translate_errors(where: str, action: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `action`, turning database errors into JobErrors that say what to do; `where` is the
    database as messages show it (no password)."""
    try:
        return action(*args, **kwargs)
    except Exception as e:
        if not is_database_error(e):
            raise
        raise translate(e, where) from e


def translate(e: BaseException, where: str) -> JobError:
    """The JobError that says what to do about database error `e`."""
    orig = getattr(e, "orig", None) or e  # SQLAlchemy's error wraps the driver's
    kinds = _kinds(e)
    reason = _first_line(orig)
    if kinds & {"OperationalError", "ProgrammingError"}:
        if _BAD_OPTION.search(reason):  # libpq refused the URL's ?options: nothing was sent
            return ConfigError(
                f"DATABASE_URL has an option the PostgreSQL driver refuses ({reason}): fix or "
                f"remove it in {where}"
            )
        if missing := _missing(reason):
            return ConfigError(
                f"the database at {where} has no {missing}: is DATABASE_URL the app's "
                "database? In a development database `cronjobs init-db` creates the built-in "
                "jobs' tables (jobs/cronjobs/retention/models.py); the app's own tables (its "
                "jobs', a rules file's) come from the app's migrations"
            )
        if "unable to open database file" in reason:
            return ConfigError(
                f"cannot open the SQLite file of DATABASE_URL ({where}): does its "
                "folder exist, and may this user write there?"
            )
        if "ProgrammingError" in kinds:
            return JobError(
                f"the database at {where} rejected a query: {reason}. Does DATABASE_URL "
                "point at the app's database, and do the tables match "
                "jobs/cronjobs/retention/models.py?"
            )
        if "lock timeout" in reason or "database is locked" in reason:
            return DependencyError(
                f"a batch waited too long for rows the app holds locked ({reason}); committed "
                "batches stay, the next run continues. Raise CRONJOBS_LOCK_TIMEOUT if this repeats"
            )
        return DependencyError(
            f"cannot use the database at {where}: {reason}. Check DATABASE_URL and "
            "that the server is up and reachable"
        )
    if "IntegrityError" in kinds:
        if held := _held_by_foreign_key(orig):
            return JobError(
                f"cannot delete a row that rows of another table still refer to ({held}): their "
                "foreign key has no ON DELETE CASCADE, so every run stops at this row. Add that "
                "table to the rule's `children` (the rules file, CRONJOBS_RULES) so the cleanup "
                "deletes them with it, or delete them in the app first; `cronjobs retention show "
                "--database-url ...` names the keys. Batches committed before this one stay"
            )
        return JobError(f"database error at {where}: {reason}")
    if "file is not a database" in reason:
        return ConfigError(
            f"DATABASE_URL names {where}, which is not a SQLite database file: check the path"
        )
    return JobError(f"database error at {where}: {reason}")


def _held_by_foreign_key(orig: BaseException) -> str | None:
    """What the database says of a delete refused by a foreign key (PostgreSQL: the key, the
    tables and the row; SQLite names none), or None for another integrity error."""
    if getattr(orig, "sqlstate", None) == _FK_VIOLATION:
        diag = getattr(orig, "diag", None)
        said = _first_line(orig)
        detail = getattr(diag, "message_detail", None)
        return f"{said}; {detail}" if detail else said
    if "FOREIGN KEY constraint failed" in str(orig):
        return "SQLite: FOREIGN KEY constraint failed"
    return None
