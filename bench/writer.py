"""A stand-in for the app while a cleanup runs (issue 15): one connection, autocommit, a write
every ~2 ms, each write timed. How long the app's writes wait on the cleanup's locks.

- sessions: a message inserted into a recent session (never deleted), then a no-op
  `UPDATE chat_sessions SET title = title` of a random old session (the rows the cleanup deletes:
  this write waits whenever the cleanup holds that row, i.e. until its transaction commits).
- analytics: an event inserted now (the rows the app writes all day).

Its rows are marked (role / event type `bench-writer`) and removed after the run, before the
count-and-checksum verification; the no-op update changes no value, so the rows a correct run
keeps are the same with or without the writer.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pg import PgServer

MARK = "bench-writer"
PAUSE = 0.002
FIRST_ID = 10**12  # above every seeded id (the seed sets ids explicitly, sequences untouched)


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.seconds)
        if not ordered:
            return {"writes": 0}

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        return {
            "writes": len(ordered),
            "p50 ms": pct(0.50),
            "p99 ms": pct(0.99),
            "max ms": ordered[-1] * 1000,
            "over 200 ms": sum(1 for s in ordered if s > 0.2),
            "errors": self.errors,
        }


class Writer:
    def __init__(self, server: PgServer, db: str, kind: str, n: int) -> None:
        self.server, self.db, self.kind, self.n = server, db, kind, n
        self.stop = threading.Event()
        self.latencies = Latencies()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def __enter__(self) -> Writer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(30)

    def _writes(self) -> list[tuple[str, Any]]:
        rng = random.Random(15)
        next_id = FIRST_ID
        out: list[tuple[str, Any]] = []
        for _ in range(100_000):
            next_id += 1
            if self.kind == "sessions":
                recent = rng.randint(self.n // 2 + 1, self.n)
                out.append(
                    (
                        "INSERT INTO chat_messages (id, session_id, role, content, created_at) "
                        "VALUES (%s, %s, %s, 'x', now())",
                        (next_id, recent, MARK),
                    )
                )
                old = rng.randint(1, self.n // 2)
                out.append(("UPDATE chat_sessions SET title = title WHERE id = %s", (old,)))
            else:
                out.append(
                    (
                        "INSERT INTO analytics_events (id, event_type, user_id, occurred_at) "
                        "VALUES (%s, %s, 'w', now())",
                        (next_id, MARK),
                    )
                )
        return out

    def _run(self) -> None:
        writes = self._writes()
        with self.server.connect(self.db) as conn:
            self.ready.set()
            for sql, params in writes:
                if self.stop.is_set():
                    break
                started = time.perf_counter()
                try:
                    conn.execute(sql, params)
                except Exception:
                    self.latencies.errors += 1
                self.latencies.seconds.append(time.perf_counter() - started)
                time.sleep(PAUSE)

    def remove_marked(self) -> None:
        with self.server.connect(self.db) as conn:
            if self.kind == "sessions":
                conn.execute("DELETE FROM chat_messages WHERE role = %s", (MARK,))
            else:
                conn.execute("DELETE FROM analytics_events WHERE event_type = %s", (MARK,))
