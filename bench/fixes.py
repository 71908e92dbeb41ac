"""`cronjobs` with a proposed fix to jobs/purge.py applied by monkeypatching, so the benchmark
can show before/after figures without editing jobs/: `python3 bench/fixes.py <cronjobs args>`,
or `bench/run.py --with-fix` (adds a "job + proposed fix" row).

The fix replaces `_delete_batch`'s PostgreSQL statement

    WITH gone AS (DELETE FROM t WHERE id = ANY(:ids) AND <old> RETURNING id),
         child_0 AS (DELETE FROM c WHERE fk = ANY(:ids) AND fk IN (SELECT id FROM gone) RETURNING fk)
    SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM child_0)

by

    WITH gone AS (DELETE FROM t WHERE id = ANY(:ids) AND id BETWEEN :first AND :last AND <old>
                  RETURNING id),
         child_0 AS (DELETE FROM c WHERE fk = ANY(ARRAY(SELECT id FROM gone)) RETURNING 1)
    SELECT ...same counts...

- `id BETWEEN :first AND :last` (the batch's ids are sorted: keyset select ORDER BY id) makes the
  parent DELETE a primary-key range scan. Without it the planner may pick the age index
  (`occurred_at < :cutoff`, `coalesce(updated_at, created_at) < :cutoff`) and filter its
  whole remaining old range by the 5,000 ids: O(old rows) per batch.
- `fk = ANY(ARRAY(SELECT id FROM gone))` deletes the children by an index scan over the ids
  actually deleted, with no join whose plan depends on the CTE's (unknowable) row estimate.
Same semantics: age re-checked on the latest row version, children only of parents deleted,
one statement (a non-cascading foreign key is still checked at its end).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any


def apply() -> None:
    from sqlalchemy import ARRAY, BigInteger, Connection, delete, func, literal, select

    import jobs.purge as purge
    from jobs.retention import Retention

    original = purge._delete_batch

    def _delete_batch(conn: Connection, rule: Retention, ids: list[int], cutoff: datetime) -> tuple[int, int]:
        if conn.dialect.name != "postgresql":
            return original(conn, rule, ids, cutoff)
        id_col = rule.table.c.id
        gone = (
            delete(rule.table)
            .where(purge._in(id_col, ids, "postgresql"), id_col.between(ids[0], ids[-1]), rule.age_of < cutoff)
            .returning(id_col)
            .cte("gone")
        )
        counts: list[Any] = [select(func.count()).select_from(gone).scalar_subquery()]
        for i, fk in enumerate(rule.children):
            gone_ids = func.array(select(gone.c.id).scalar_subquery()).cast(ARRAY(BigInteger))
            child = (
                delete(fk.table).where(fk == func.any(gone_ids)).returning(literal(1)).cte(f"child_{i}")
            )
            counts.append(select(func.count()).select_from(child).scalar_subquery())
        row = conn.execute(select(*counts)).one()
        return int(row[0]), sum(int(n) for n in row[1:])

    purge._delete_batch = _delete_batch  # type: ignore[assignment]


if __name__ == "__main__":
    apply()
    from jobs.cli import main

    sys.argv[0] = "cronjobs"
    main()
