"""Where the time of one short job run goes: a phase hook loaded into the real `cronjobs`
process (`python -c "import phases; phases.main()" <args>`), no change to jobs/.

It wraps, at the DBAPI level (psycopg), every connect, execute, commit and rollback, and
`cronjobs.runner.run` (whose span is the job's own `finished` figure), and writes one JSON record
to the file named by BENCH_PHASES_OUT: the run's seconds, and each database call with its start
(relative to the run's start), duration and SQL. SQLAlchemy's own first-connect queries (server
version, isolation level, ...) go through psycopg's cursor too, so they are counted.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

_calls: list[dict[str, Any]] = []
_t0 = time.perf_counter()
_run: dict[str, float] = {}


def _record(kind: str, started: float, sql: str = "") -> None:
    _calls.append(
        {"kind": kind, "at": started, "ms": (time.perf_counter() - started) * 1000, "sql": sql}
    )


def _install() -> None:
    import psycopg

    original_connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original_connect(cls, *args, **kwargs)
        finally:
            _record("connect", t)

    psycopg.Connection.connect = classmethod(connect)  # type: ignore[assignment,method-assign]
    psycopg.connect = psycopg.Connection.connect  # the module's alias, which SQLAlchemy calls

    def wrap(owner: Any, name: str, kind: str) -> None:
        original = getattr(owner, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                sql = args[0] if args else ""
                if not isinstance(sql, str | bytes):  # psycopg.sql.Composed (type look-ups)
                    sql = sql.as_string(self) if hasattr(sql, "as_string") else repr(sql)
                _record(kind, t, " ".join(str(sql).split())[:90])

        setattr(owner, name, wrapper)

    wrap(psycopg.Cursor, "execute", "execute")
    wrap(psycopg.Connection, "commit", "commit")
    wrap(psycopg.Connection, "rollback", "rollback")
    wrap(psycopg.Connection, "close", "close")

    import cronjobs.runner

    original_run = cronjobs.runner.run

    def run(*args: Any, **kwargs: Any) -> Any:
        # BENCH_PROFILE=FILE.prof: cProfile of the run (pstats); FILE.txt: pyinstrument's
        # sampled call tree (pip install pyinstrument), which distorts short calls less.
        target = os.environ.get("BENCH_PROFILE", "")
        profiler: Any = None
        if target.endswith(".txt"):
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001)
            profiler.start()
        elif target:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        _run["start"] = time.perf_counter()
        try:
            return original_run(*args, **kwargs)
        finally:
            _run["end"] = time.perf_counter()
            if target.endswith(".txt"):
                profiler.stop()
                with open(target, "w") as f:
                    f.write(
                        profiler.output_text(show_all=bool(os.environ.get("BENCH_PROFILE_ALL")))
                    )
            elif target:
                profiler.disable()
                profiler.dump_stats(target)

    cronjobs.runner.run = run  # type: ignore[assignment]


def _dump() -> None:
    start = _run.get("start", _t0)
    record = {
        "run_seconds": _run.get("end", start) - start,
        "calls": [{**c, "at": (c["at"] - start) * 1000} for c in _calls],
    }
    with open(os.environ["BENCH_PHASES_OUT"], "w") as f:
        json.dump(record, f)


def main() -> None:
    import atexit
    import sys

    from cronjobs.cli import main as cronjobs

    _install()
    atexit.register(_dump)
    sys.argv[0] = "cronjobs"
    cronjobs()
