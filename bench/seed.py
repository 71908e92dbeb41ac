"""Seeding the benchmark databases in SQL (generate_series), and checksums to verify runs.

The schema is the jobs' own (`cronjobs init-db`, from jobs/cronjobs/retention/models.py). Rows are laid out the
way an app writes them: ids grow with time. Nothing lies near a cutoff, so the job and the
reference loops (which compute "now" a few seconds apart) must delete exactly the same rows:

- chat sessions: half are old (last activity 95..400 days ago; every 10th has NULL
  updated_at, so age falls back to created_at), half are recent (last activity within 89
  days, some created more than 90 days ago but updated since); 5 messages per session;
- peptide info sessions: a tenth as many, laid out the same way, no children;
- analytics events: spread evenly over 400 days, ids growing with time, 8 event types,
  50k users (every 17th event anonymous).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from common import script

SESSION_DAYS = 90
EVENT_DAYS = 365

EVENT_TYPES = (
    "ARRAY['page_view','chat_message','search','peptide_lookup','login','logout','signup','export']"
)


def sessions_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=SESSION_DAYS)


def events_cutoff(now: datetime) -> datetime:
    """Whole UTC days, as cronjobs.retention.tables.Retention.cutoff does for analytics."""
    return (now - timedelta(days=EVENT_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)


def init_schema(url: str) -> None:
    """Create the jobs' tables with the real CLI (so the indexes are the models')."""
    subprocess.run(
        [script("cronjobs"), "--log-format", "json", "init-db"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


def _secondary_indexes(conn: psycopg.Connection[Any], tables: list[str]) -> list[tuple[str, str]]:
    # A partitioned table's index reads `CREATE INDEX ... ON ONLY parent`: recreated as such it
    # would be an invalid index on the parent alone, none on the partitions (the bench's
    # partitioned template had no occurred_at index before this).
    return [
        (r[0], r[1].replace(" ON ONLY ", " ON "))
        for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT LIKE '%%pkey'",
            (tables,),
        )
    ]


def _load(
    conn: psycopg.Connection[Any], tables: list[str], statements: list[tuple[str, dict[str, Any]]]
) -> None:
    """Run the inserts with secondary indexes dropped and FK triggers off, then rebuild."""
    indexes = _secondary_indexes(conn, tables)
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for sql, params in statements:
            conn.execute(sql, params)  # type: ignore[arg-type]
        for _, definition in indexes:
            conn.execute(definition)  # type: ignore[arg-type]
    conn.execute("VACUUM (FREEZE, ANALYZE)")


def _sessions_sql(table: str, columns: str, extra: str) -> str:
    # %(n)s rows, the first %(half)s old. Old: created 400..100 days ago, updated up to 5 days
    # later (NULL for every 10th). Recent: created 120..1 days ago, last activity within 89 days.
    return f"""
INSERT INTO {table} (id, user_id, {columns}, created_at, updated_at)
SELECT i, 'user' || (i %% 20011), {extra}, c,
  CASE WHEN i <= %(half)s
       THEN CASE WHEN i %% 10 = 0 THEN NULL ELSE c + (i %% 120) * interval '1 hour' END
       ELSE greatest(c, %(now)s - ((i * 7919) %% (89 * 1440)) * interval '1 minute') END
FROM (
  SELECT i, CASE WHEN i <= %(half)s
    THEN %(now)s - interval '400 days' + (i::float8 / %(half)s) * interval '300 days'
    ELSE %(now)s - interval '120 days'
         + ((i - %(half)s)::float8 / greatest(%(n)s - %(half)s, 1)) * interval '119 days' END AS c
  FROM generate_series(1::bigint, %(n)s) i
) s
"""


def seed_sessions(conn: psycopg.Connection[Any], n: int, now: datetime) -> None:
    p = n // 10
    _load(
        conn,
        ["chat_sessions", "chat_messages", "peptide_info_sessions"],
        [
            (
                _sessions_sql("chat_sessions", "title", "'session ' || i"),
                {"n": n, "half": n // 2, "now": now},
            ),
            (
                """INSERT INTO chat_messages (id, session_id, role, content, created_at)
SELECT m, (m - 1) / 5 + 1, CASE WHEN m %% 2 = 0 THEN 'assistant' ELSE 'user' END,
  repeat(md5(m::text), 3), %(now)s - (m %% 400) * interval '1 day'
FROM generate_series(1::bigint, 5 * %(n)s) m""",
                {"n": n, "now": now},
            ),
            (
                _sessions_sql(
                    "peptide_info_sessions",
                    "peptide, data",
                    "'PEP' || i, json_build_object('mass', i)",
                ),
                {"n": p, "half": p // 2, "now": now},
            ),
        ],
    )


def seed_events(
    conn: psycopg.Connection[Any], n: int, now: datetime, *, aggregate_before: datetime | None
) -> None:
    statements: list[tuple[str, dict[str, Any]]] = [
        (
            f"""INSERT INTO analytics_events (id, event_type, user_id, properties, occurred_at)
SELECT i, ({EVENT_TYPES})[1 + (i * 31) %% 8],
  CASE WHEN i %% 17 = 0 THEN NULL ELSE 'user' || ((i * 2654435761) %% 50000) END,
  json_build_object('k', i %% 10),
  %(now)s - interval '400 days' + (i::float8 / %(n)s) * interval '400 days'
FROM generate_series(1::bigint, %(n)s) i""",
            {"n": n, "now": now},
        )
    ]
    if aggregate_before is not None:
        # The old days already have their figures, so cleanup-old-analytics only deletes.
        statements.append(
            (
                """INSERT INTO daily_analytics (day, event_type, event_count, unique_users, updated_at)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, event_type, count(*), count(DISTINCT user_id), %(now)s
FROM analytics_events WHERE occurred_at < %(cutoff)s GROUP BY 1, 2""",
                {"now": now, "cutoff": aggregate_before},
            )
        )
    _load(conn, ["analytics_events", "daily_analytics"], statements)


# --- verification -----------------------------------------------------------------------

# An order-independent checksum of whole rows (every column): the sum of a 64-bit hash of
# each row's text. Any deleted, added or changed row changes it.
_SUM = "count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)"


def _kept_conditions(kind: str, cutoff: datetime) -> dict[str, str]:
    c = f"'{cutoff.isoformat()}'::timestamptz"
    if kind == "sessions":
        return {
            "chat_sessions": f"coalesce(updated_at, created_at) >= {c}",
            "chat_messages": f"session_id IN (SELECT id FROM chat_sessions WHERE coalesce(updated_at, created_at) >= {c})",
            "peptide_info_sessions": f"coalesce(updated_at, created_at) >= {c}",
        }
    return {"analytics_events": f"occurred_at >= {c}", "daily_analytics": "true"}


def expected(
    conn: psycopg.Connection[Any], kind: str, cutoff: datetime
) -> dict[str, tuple[int, int]]:
    """(count, checksum) per table of the rows a correct run keeps, and the row counts it deletes."""
    out: dict[str, tuple[int, int]] = {}
    for table, where in _kept_conditions(kind, cutoff).items():
        row = conn.execute(f"SELECT {_SUM} FROM {table} t WHERE {where}").fetchone()  # type: ignore[arg-type]
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    return out


def actual(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for table in tables:
        row = conn.execute(f"SELECT {_SUM} FROM {table} t").fetchone()  # type: ignore[arg-type]
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    return out


def counts(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, int]:
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[arg-type,index]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
