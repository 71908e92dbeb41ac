"""cleanup-redis-cache against a real Redis server (pytest-redis)."""

from __future__ import annotations

import json
from typing import Any

from cronjobs.builtin.cache import inspect_cache
from tests.jobs.helpers import invoke


def url(proc: Any) -> str:
    return f"redis://{proc.host}:{proc.port}/0"


def test_reports_keys_per_prefix_and_ttl_less_keys(redisdb: Any) -> None:
    for i in range(30):
        redisdb.set(f"cache:page:{i}", "x", ex=600)
    for i in range(7):
        redisdb.set(f"cache:page:stale{i}", "x")  # no TTL
    redisdb.set("cache*odd:1", "x")  # a prefix with a glob character
    redisdb.set("session:abc", "x")  # not a cache key: never touched
    redisdb.get("cache:page:1")
    redisdb.get("missing")

    report = inspect_cache(redisdb, ("cache:", "cache*odd:"), scan_count=5)
    by_prefix = {p.prefix: (p.keys, p.without_ttl) for p in report.prefixes}
    assert by_prefix == {"cache:": (37, 7), "cache*odd:": (1, 1)}
    assert report.total_keys == 39
    assert report.keyspace_hits >= 1 and report.keyspace_misses >= 1
    assert report.truncated is False and report.used_memory_bytes > 0
    assert redisdb.ttl("session:abc") == -1


def test_fix_missing_ttl_never_overrides_an_existing_ttl(redisdb: Any, redis_proc: Any) -> None:
    redisdb.set("cache:a", "x")
    redisdb.set("cache:b", "x", ex=50)
    redisdb.set("other:c", "x")

    dry = invoke(
        "cleanup-redis-cache",
        "--fix-missing-ttl",
        "3600",
        "--dry-run",
        env={"REDIS_URL": url(redis_proc)},
    )
    assert dry.exit_code == 0, dry.stderr
    assert "cache:*: 2 keys, 1 without TTL, would set TTL 3600s on 1" in dry.stdout
    assert redisdb.ttl("cache:a") == -1

    fixed = invoke(
        "cleanup-redis-cache",
        "--fix-missing-ttl",
        "3600",
        "-o",
        "json",
        env={"REDIS_URL": url(redis_proc)},
    )
    assert fixed.exit_code == 0, fixed.stderr
    assert json.loads(fixed.stdout)["prefixes"][0]["ttl_set"] == 1
    assert 3590 < redisdb.ttl("cache:a") <= 3600
    assert redisdb.ttl("cache:b") <= 50  # the app's TTL stands
    assert redisdb.ttl("other:c") == -1  # not a cache prefix


def test_max_keys_bounds_the_scan_and_no_keys_or_flush_is_used(
    redisdb: Any, redis_proc: Any
) -> None:
    redisdb.mset({f"cache:{i}": "x" for i in range(500)})
    redisdb.config_resetstat()
    result = invoke("cleanup-redis-cache", "--max-keys", "100", env={"REDIS_URL": url(redis_proc)})
    assert result.exit_code == 0, result.stderr
    assert "scan stopped at --max-keys 100: counts are partial" in result.stdout
    assert "cache:*: 100 keys" in result.stdout
    used = set(redisdb.info("commandstats"))
    assert "cmdstat_scan" in used
    assert not used & {"cmdstat_keys", "cmdstat_flushdb", "cmdstat_flushall", "cmdstat_del"}


def test_unreachable_redis_fails_with_a_clear_message_and_no_password() -> None:
    result = invoke(
        "cleanup-redis-cache",
        env={"REDIS_URL": "redis://:hunter2secret@127.0.0.1:1/0", "CRONJOBS_TIMEOUT": "1"},
    )
    assert result.exit_code == 1
    assert "Error: cannot reach Redis at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout


def test_missing_redis_url_is_a_configuration_error() -> None:
    result = invoke("cleanup-redis-cache")
    assert result.exit_code == 2
    assert "Error: REDIS_URL is not set" in result.stderr


def _app_lookups(client: Any, hits: int, misses: int) -> None:
    for i in range(hits):
        client.get(f"cache:page:{i}")
    for i in range(misses):
        client.get(f"cache:absent:{i}")


def test_the_reported_hit_rate_is_the_apps_not_raised_by_the_jobs_own_lookups(
    redisdb: Any,
) -> None:
    """Every TTL the job reads counts as a keyspace hit in Redis; the report must still show
    the app's figures, run after run."""
    for i in range(40):
        redisdb.set(f"cache:page:{i}", "x", ex=600)
    redisdb.config_resetstat()
    _app_lookups(redisdb, hits=6, misses=2)

    first = inspect_cache(redisdb, ("cache:",), scan_count=7)
    assert (first.keyspace_hits, first.keyspace_misses) == (6, 2)
    assert first.prefixes[0].keys == 40 and first.total_keys == 40
    _app_lookups(redisdb, hits=3, misses=1)
    second = inspect_cache(redisdb, ("cache:",), scan_count=7)
    third = inspect_cache(redisdb, ("cache:",), fix_missing_ttl=60, scan_count=7)
    assert (second.keyspace_hits, second.keyspace_misses) == (9, 3)
    assert (third.keyspace_hits, third.keyspace_misses) == (9, 3)
    assert second.own_lookups == 41 and third.total_keys == 40
    assert (
        "hit rate: 75.0% (9 hits, 3 misses by the app; this job's own 82 lookups left out)"
        in (third.lines()[1])
    )

    redisdb.config_resetstat()  # the counters start again: so does the job's tally
    _app_lookups(redisdb, hits=1, misses=0)
    after_reset = inspect_cache(redisdb, ("cache:",))
    assert (after_reset.keyspace_hits, after_reset.keyspace_misses) == (1, 0)
    # A reset after which the app alone looks up more than the old tally: still a reset.
    redisdb.config_resetstat()
    for _ in range(3):
        _app_lookups(redisdb, hits=40, misses=5)
    busy = inspect_cache(redisdb, ("cache:",))
    assert (busy.keyspace_hits, busy.keyspace_misses) == (120, 15)


def test_the_tally_is_not_a_cache_key(redisdb: Any) -> None:
    redisdb.set("cron:x", "1")
    inspect_cache(redisdb, ("cron",))
    report = inspect_cache(redisdb, ("cron",))
    assert report.prefixes[0].keys == 1 and report.prefixes[0].without_ttl == 1
    assert redisdb.ttl("cronjobs:cleanup-redis-cache:own-lookups") > 0


def test_the_cache_job_offers_no_database_lock_timeout() -> None:
    """It uses no database: --lock-timeout is not among its flags (its --help would promise
    a lock wait it never has)."""
    shown = invoke("cleanup-redis-cache", "--help")
    assert "--timeout" in shown.stdout and "--lock-timeout" not in shown.stdout
    result = invoke("cleanup-redis-cache", "--lock-timeout", "5", env={"REDIS_URL": "redis://x"})
    assert result.exit_code == 2 and "No such option '--lock-timeout'" in result.stderr


def test_prefixes_given_from_python_are_the_ones_scanned(redisdb: Any, redis_proc: Any) -> None:
    """`cronjobs.testing.run(cleanup_redis_cache, options={"cache_prefixes": ...})` scans those
    prefixes, as `--cache-prefix` does (it scanned the default `cache:`)."""
    from cronjobs.builtin.cache import cleanup_redis_cache
    from cronjobs.testing import run

    redisdb.set("sess:1", "x")
    redisdb.set("sess:2", "x")
    redisdb.set("cache:1", "x")
    result = run(
        cleanup_redis_cache,
        options={"cache_prefixes": ("sess:",)},
        redis_url=url(redis_proc),
        dry_run=True,
    )
    assert {p.prefix: p.keys for p in result.returned.prefixes} == {"sess:": 2}
