"""The minimal script a job is measured against (issue 27 item 3): the job's own SQL, replayed.

`python -c "import replay; replay.capture()" <cronjobs args>` runs the real `cronjobs` in this
process with psycopg wrapped: the connect keywords (what SQLAlchemy hands the driver: host,
port, user, dbname, connect_timeout, options, application_name) and every statement with its
parameters, commit, rollback and close, in order. At exit it writes to BENCH_REPLAY_OUT a plain
Python script that does exactly those calls with psycopg and nothing else: same driver, same
connection settings, same statements and transactions. That script is what a hand-written job
doing the same work would be; `bench/job_startup.py` times both as fresh processes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

_connects: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
_calls: list[tuple[str, str, Any]] = []  # (kind, sql, params)


def _install() -> None:
    import psycopg

    original_connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        _connects.append((args, kwargs))
        _calls.append(("connect", "", len(_connects) - 1))
        return original_connect(cls, *args, **kwargs)

    psycopg.Connection.connect = classmethod(connect)  # type: ignore[assignment,method-assign]
    psycopg.connect = psycopg.Connection.connect  # the module's alias, which SQLAlchemy calls

    original_execute = psycopg.Cursor.execute

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if isinstance(query, bytes):
            query = query.decode()
        if isinstance(query, str):  # psycopg's own type look-ups are Composed: not the job's
            plain = (
                dict(params) if hasattr(params, "keys") else params
            )  # SQLAlchemy's immutabledict
            _calls.append(("execute", query, plain))
        return original_execute(self, query, params, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]

    # A transaction block on an autocommit connection (the run's own, cronjobs.dbapi.Db) sends
    # BEGIN and COMMIT (or ROLLBACK) itself, not through a cursor: recorded as such.
    original_transaction = psycopg.Connection.transaction

    @contextlib.contextmanager
    def transaction(self: Any, *a: Any, **k: Any) -> Iterator[Any]:
        _calls.append(("execute", "BEGIN", None))
        try:
            with original_transaction(self, *a, **k) as tx:
                yield tx
        except BaseException:
            _calls.append(("execute", "ROLLBACK", None))
            raise
        _calls.append(("execute", "COMMIT", None))

    psycopg.Connection.transaction = transaction  # type: ignore[assignment,method-assign]
    for name in ("commit", "rollback", "close"):
        original = getattr(psycopg.Connection, name)

        def wrapper(self: Any, *a: Any, _name: str = name, _orig: Any = original) -> Any:
            if not self.closed:
                _calls.append((_name, "", None))
            return _orig(self, *a)

        setattr(psycopg.Connection, name, wrapper)


def script() -> str:
    """The replay as a standalone script (one connection per connect the job made)."""
    if len(_connects) != 1:
        raise SystemExit(f"replay: the job made {len(_connects)} connections, expected 1")
    args, kwargs = _connects[0]
    # SQLAlchemy's own adapters map: the script uses psycopg's defaults, as a plain script would.
    kwargs = {k: v for k, v in kwargs.items() if k != "context"}
    lines = [
        '"""Written by bench/replay.py: the SQL of one `cronjobs` run, replayed with psycopg."""',
        "import datetime",
        "import decimal",
        "import uuid",
        "",
        "import psycopg",
        "",
        f"conn = psycopg.connect(*{args!r}, **{kwargs!r})",
    ]
    for kind, sql, params in _calls:
        if kind == "execute":
            lines.append(f"cur = conn.execute({sql!r}, {params!r})")
            lines.append("if cur.description is not None:\n    cur.fetchall()")
        elif kind in ("commit", "rollback", "close"):
            lines.append(f"conn.{kind}()")
    if _calls and _calls[-1][0] != "close":
        lines.append("conn.close()")
    return "\n".join(lines) + "\n"


def capture() -> None:
    from cronjobs.cli import main

    _install()
    out = os.environ["BENCH_REPLAY_OUT"]

    def dump() -> None:
        with open(out, "w") as f:
            f.write(script())

    atexit.register(dump)
    sys.argv[0] = "cronjobs"
    main()
