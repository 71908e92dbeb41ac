"""The SQL text cleanup-old-sessions sends (cronjobs.retention.purge), for PostgreSQL and SQLite.

Every name is a rule's (cronjobs.retention.rule_names), quoted; every value a `:name` parameter
(`:cutoff` the cutoff, `:size` a batch's rows, `:last` the previous batch's last id, `:ids` or
`:id_0 ...` a batch's ids). Each statement is built once per rule and dialect (cached).
"""

from __future__ import annotations

from functools import lru_cache

from cronjobs.retention.rule_names import RuleNames

_BIGINT = "CAST(:{} AS bigint)"


def _counts(names: RuleNames, gone_cte: str, head: list[str]) -> str:
    """PostgreSQL: `gone_cte` (the parents deleted, `gone`), each child table's delete of the
    children of `gone` (`child_N`), and a SELECT of `head`, the parents' count and each
    child table's."""
    ctes = [gone_cte]
    counts = [*head, "(SELECT count(*) FROM gone)"]
    gone_ids = "CAST(array((SELECT gone.id FROM gone)) AS bigint[])"
    for i, child in enumerate(names.children):
        ctes.append(
            f"child_{i} AS (DELETE FROM {child.sql} WHERE {child.fk} = any({gone_ids}) RETURNING 1)"
        )
        counts.append(f"(SELECT count(*) FROM child_{i})")
    return f"WITH {', '.join(ctes)} SELECT {', '.join(counts)}"


@lru_cache(maxsize=16)
def range_batch(names: RuleNames, after: bool) -> str:
    """PostgreSQL: the one statement that deletes the next batch of `:size` rows (`:last` is
    the previous batch's last id when `after`) and returns the rows picked, the last id picked,
    the rows deleted and each child table's rows deleted.

    The batch is a primary-key range (`id > :last AND id <= hi`, `hi` the id of the
    `:size`-th old row): the delete is one range scan, no id list goes to the client and
    back, and the children go by an index scan on the ids actually deleted
    (`fk = ANY(ARRAY(ids deleted))`: a plan that does not hang on the CTE's row estimate).
    """
    t, pk, old = names.sql, names.pk, names.old("postgresql")
    lower = [f"{pk} > {_BIGINT.format('last')}"] if after else []
    picked = (
        f"SELECT {pk} AS id FROM {t} WHERE {' AND '.join([old, *lower])} "
        f"ORDER BY {pk} LIMIT {_BIGINT.format('size')}"
    )
    bound = f"bound AS (SELECT count(*) AS n, max(picked.id) AS hi FROM ({picked}) AS picked)"
    in_range = " AND ".join([*lower, f"{pk} <= (SELECT bound.hi FROM bound)", old])
    gone = f"gone AS (DELETE FROM {t} WHERE {in_range} RETURNING {pk} AS id)"
    head = ["(SELECT bound.n FROM bound)", "(SELECT bound.hi FROM bound)"]
    return _counts(names, gone, head).replace("WITH ", f"WITH {bound}, ", 1)


@lru_cache(maxsize=16)
def keyset(names: RuleNames, dialect: str, after: bool) -> str:
    """The keyset select of the next batch's ids, sorted: `:size` old rows after `:last`."""
    lower = f" AND {names.pk} > :last" if after else ""
    return (
        f"SELECT {names.pk} FROM {names.sql} WHERE {names.old(dialect)}{lower} "
        f"ORDER BY {names.pk} LIMIT :size"
    )


def in_batch_pg(names: RuleNames) -> str:
    """PostgreSQL: the rows of `:ids` (sorted), also as their range (`:lo` to `:hi`), so the
    planner scans the primary key's range, not the age index."""
    pk, lo, hi = names.pk, _BIGINT.format("lo"), _BIGINT.format("hi")
    return f"{pk} = any(CAST(:ids AS bigint[])) AND {pk} BETWEEN {lo} AND {hi}"


@lru_cache(maxsize=16)
def delete_ids_pg(names: RuleNames) -> str:
    """PostgreSQL: delete the rows of `:ids` that are still old, and their children; returns
    each table's count, in one statement."""
    gone = (
        f"gone AS (DELETE FROM {names.sql} WHERE {in_batch_pg(names)} AND "
        f"{names.old('postgresql')} RETURNING {names.pk} AS id)"
    )
    return _counts(names, gone, [])


@lru_cache(maxsize=16)
def delete_ids_sqlite(names: RuleNames, n: int) -> tuple[str, ...]:
    """SQLite: the statements that delete the `n` rows `:id_0` ... (if still old): each child
    table's children of them, then the rows."""
    ids = ", ".join(f":id_{i}" for i in range(n))
    mine = f"{names.pk} IN ({ids}) AND {names.old('sqlite')}"
    still_old = f"SELECT {names.pk} FROM {names.sql} WHERE {mine}"
    children = [f"DELETE FROM {c.sql} WHERE {c.fk} IN ({still_old})" for c in names.children]
    return (*children, f"DELETE FROM {names.sql} WHERE {mine}")


def id_params(ids: list[int]) -> dict[str, int]:
    """SQLite: `:id_0` ... of `delete_ids_sqlite`."""
    return {f"id_{i}": v for i, v in enumerate(ids)}


@lru_cache(maxsize=16)
def lock_ids(names: RuleNames) -> str:
    """PostgreSQL: the rows of `:ids` this transaction could lock without waiting."""
    return f"SELECT {names.pk} FROM {names.sql} WHERE {in_batch_pg(names)} FOR UPDATE SKIP LOCKED"


@lru_cache(maxsize=16)
def parents_with_children_held(names: RuleNames, child: int) -> str:
    """PostgreSQL: of `:parents`, those with a row of child table `child` this transaction
    could not lock (SKIP LOCKED).

    The locked and the visible children are counted in one statement (one snapshot), after
    the parents are locked, so no child can be added meanwhile.
    """
    c = names.children[child]
    parents = f"{c.fk} = any(CAST(:parents AS bigint[]))"
    mine = f"mine AS (SELECT {c.fk} AS fk FROM {c.sql} WHERE {parents} FOR UPDATE SKIP LOCKED)"
    every = f"SELECT {c.fk} AS fk, count(*) AS n FROM {c.sql} WHERE {parents} GROUP BY {c.fk}"
    held = "SELECT mine.fk AS fk, count(*) AS n FROM mine GROUP BY mine.fk"
    return (
        f"WITH {mine} SELECT every.fk FROM ({every}) AS every LEFT OUTER JOIN ({held}) AS held "
        "ON held.fk = every.fk WHERE coalesce(held.n, 0) < every.n"
    )


@lru_cache(maxsize=16)
def count_old(names: RuleNames, dialect: str) -> tuple[str, ...]:
    """How many rows are old, then how many rows of each child table are theirs."""
    old_ids = f"SELECT {names.pk} FROM {names.sql} WHERE {names.old(dialect)}"
    children = [f"SELECT count(*) FROM {c.sql} WHERE {c.fk} IN ({old_ids})" for c in names.children]
    return (f"SELECT count(*) FROM ({old_ids}) AS old", *children)
