"""cleanup-redis-cache: report the cache's state; optionally give TTL-less cache keys a TTL.

Keys expire by TTL; this job only looks (SCAN with a bounded COUNT, never KEYS or FLUSH) and,
with `fix_missing_ttl`, sets a TTL on cache keys that have none (atomically, only if the key still
has none, so a TTL the app sets meanwhile is never overwritten).

The hit rate it reports is the app's: Redis counts every key lookup as a keyspace hit or miss,
the TTL reads of this job included, and no command that reads a TTL skips the counters (TTL, PTTL,
TYPE, EXISTS, OBJECT, EXPIRETIME, SCAN ... TYPE and scripts all count; measured on Redis 7.0). So
the job keeps a tally of its own lookups in one small hash (`OWN_LOOKUPS`, tied to the server's
run_id and to a count of its own ECHO marks, so a restart or CONFIG RESETSTAT starts it anew)
and reports the counters net of it.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from cronjobs import options
from cronjobs.exitcodes import ExitCode
from cronjobs.redis_client import connect
from cronjobs.registry import job

if TYPE_CHECKING:
    from cronjobs.context import JobContext

log = logging.getLogger(__name__)


@dataclass
class PrefixReport:
    prefix: str
    keys: int = 0
    without_ttl: int = 0
    ttl_set: int = 0


@dataclass
class CacheReport:
    used_memory_bytes: int
    used_memory_human: str
    maxmemory_bytes: int
    maxmemory_policy: str
    keyspace_hits: int
    """Hits of the app's lookups: the server's counter less this job's own lookups."""
    keyspace_misses: int
    evicted_keys: int
    expired_keys: int
    total_keys: int
    prefixes: list[PrefixReport] = field(default_factory=list)
    max_keys: int = 0
    truncated: bool = False
    """True when --max-keys stopped the scan before it saw every key."""
    fix_missing_ttl: int | None = None
    dry_run: bool = False
    interrupted: bool = False
    own_lookups: int = 0
    """Lookups of this job's earlier runs (since the server's stats began), left out of the
    hits and misses above; this run's own are added to the tally for the next."""

    @property
    def hit_rate(self) -> float | None:
        total = self.keyspace_hits + self.keyspace_misses
        return round(self.keyspace_hits / total, 4) if total else None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.interrupted else ExitCode.OK

    def counts(self) -> dict[str, int]:
        return {
            "keys": sum(p.keys for p in self.prefixes),
            "without_ttl": sum(p.without_ttl for p in self.prefixes),
            "ttl_set": sum(p.ttl_set for p in self.prefixes),
        }

    def lines(self) -> list[str]:
        limit = f"{self.maxmemory_bytes} bytes" if self.maxmemory_bytes else "no limit"
        rate = f"{self.hit_rate:.1%}" if self.hit_rate is not None else "n/a (no lookups yet)"
        out = [
            f"memory: {self.used_memory_human} used, maxmemory {limit}, policy {self.maxmemory_policy}",
            f"hit rate: {rate} ({_n(self.keyspace_hits, 'hit')}, "
            f"{_n(self.keyspace_misses, 'miss', 'misses')} by the app; this job's own "
            f"{_n(self.own_lookups, 'lookup')} left out); evicted {self.evicted_keys}, expired {self.expired_keys}; {self.total_keys} keys in db",
        ]
        for p in self.prefixes:
            line = f"{p.prefix}*: {_n(p.keys, 'key')}, {p.without_ttl} without TTL"
            if self.fix_missing_ttl is not None:
                verb = "would set" if self.dry_run else "set"
                line += f", {verb} TTL {self.fix_missing_ttl}s on {p.ttl_set}"
            out.append(line)
        if self.truncated:
            out.append(f"scan stopped at --max-keys {self.max_keys}: counts are partial")
        if self.interrupted:
            out.append("interrupted: the report is partial")
        return out


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


OWN_LOOKUPS = "cronjobs:cleanup-redis-cache:own-lookups"
_TALLY_DAYS = 30


@dataclass
class _Tally:
    hits: int = 0
    misses: int = 0
    reset: bool = False
    """The server's counters went down since: the stored tally no longer applies."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _marks(client: Any) -> int:
    """How many ECHO commands the server has counted: the job sends one per run, so fewer
    than the last run saw means CONFIG RESETSTAT (or a restart) zeroed the counters since —
    which the hit counters alone cannot tell once the app has looked up more keys again."""
    stats = client.info("commandstats").get("cmdstat_echo") or {}
    return int(stats.get("calls", 0))


def _past_lookups(client: Any, server: str) -> tuple[_Tally, _Tally, int]:
    """This job's lookups before this run (while they still apply to the server's counters),
    this run's first (the read of the tally itself), and this run's mark."""
    stored = {_text(k): _text(v) for k, v in client.hgetall(OWN_LOOKUPS).items()}
    this_run = _Tally(hits=1) if stored else _Tally(misses=1)
    past = _Tally(int(stored.get("hits", 0)), int(stored.get("misses", 0)))
    marks = _marks(client)
    if stored.get("server") != server or marks < int(stored.get("marks", 0)):
        past = _Tally(reset=True)
    client.echo("cronjobs: own-lookups mark")
    return past, this_run, marks + 1


def _record_lookups(client: Any, server: str, past: _Tally, this_run: _Tally, marks: int) -> None:
    """Add this run's lookups to the tally (HINCRBY: two runs at once both count; after a
    reset, HSET starts it anew). Writes are not lookups; a refused write (a read-only replica,
    OOM) only costs the next report its exactness."""
    import redis

    pipe = client.pipeline(transaction=True)
    if past.reset:
        pipe.hset(OWN_LOOKUPS, mapping={"hits": this_run.hits, "misses": this_run.misses})
    else:
        pipe.hincrby(OWN_LOOKUPS, "hits", this_run.hits)
        pipe.hincrby(OWN_LOOKUPS, "misses", this_run.misses)
    pipe.hset(OWN_LOOKUPS, mapping={"server": server, "marks": marks})
    pipe.expire(OWN_LOOKUPS, _TALLY_DAYS * 86400)
    try:
        pipe.execute()
    except redis.exceptions.RedisError as e:
        log.warning("could not record this run's own lookups: %s", e)


def glob_escape(prefix: str) -> str:
    """A prefix as a literal in a Redis MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix)


def _int(info: dict[str, Any], key: str) -> int:
    return int(info.get(key, 0) or 0)


def inspect_cache(
    client: Any,
    prefixes: tuple[str, ...],
    *,
    max_keys: int = 100_000,
    scan_count: int = 500,
    fix_missing_ttl: int | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> CacheReport:
    """Scan each prefix's keys (at most `max_keys` in all) and report; see module doc."""
    info = client.info()
    server = str(info.get("run_id", ""))
    hits, misses = _int(info, "keyspace_hits"), _int(info, "keyspace_misses")
    past, this_run, marks = _past_lookups(client, server)
    report = CacheReport(
        used_memory_bytes=_int(info, "used_memory"),
        used_memory_human=str(info.get("used_memory_human", "")),
        maxmemory_bytes=_int(info, "maxmemory"),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        keyspace_hits=hits - past.hits,
        keyspace_misses=misses - past.misses,
        evicted_keys=_int(info, "evicted_keys"),
        expired_keys=_int(info, "expired_keys"),
        total_keys=int(client.dbsize()) - this_run.hits,  # the tally hash is not a cache key
        max_keys=max_keys,
        fix_missing_ttl=fix_missing_ttl,
        dry_run=dry_run,
        own_lookups=past.hits + past.misses,
    )
    try:
        _scan(client, report, prefixes, scan_count, this_run, stop)
    finally:
        _record_lookups(client, server, past, this_run, marks)
    return report


def _scan(
    client: Any,
    report: CacheReport,
    prefixes: tuple[str, ...],
    scan_count: int,
    tally: _Tally,
    stop: threading.Event | None,
) -> None:
    seen, max_keys = 0, report.max_keys
    for prefix in prefixes:
        entry = PrefixReport(prefix)
        report.prefixes.append(entry)
        cursor = 0
        while True:
            if stop is not None and stop.is_set():
                report.interrupted = True
                return
            if seen >= max_keys:
                report.truncated = True
                return
            cursor, keys = client.scan(cursor, match=glob_escape(prefix) + "*", count=scan_count)
            keys = [k for k in keys if _text(k) != OWN_LOOKUPS]
            room = max_keys - seen
            _inspect_page(client, keys[:room], entry, report, tally)
            seen += min(len(keys), room)
            if len(keys) > room:
                report.truncated = True
                return
            if cursor == 0:
                break
        log.info(
            "prefix scanned",
            extra={"prefix": prefix, "keys": entry.keys, "without_ttl": entry.without_ttl},
        )


def _inspect_page(
    client: Any, keys: list[Any], entry: PrefixReport, report: CacheReport, tally: _Tally
) -> None:
    if not keys:
        return
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.ttl(key)
    ttls = pipe.execute()
    _count(tally, ttls)
    no_ttl = [k for k, t in zip(keys, ttls, strict=True) if t == -1]  # -2: gone since SCAN
    entry.keys += sum(1 for t in ttls if t != -2)
    entry.without_ttl += len(no_ttl)
    fix = report.fix_missing_ttl
    if fix is None or not no_ttl:
        return
    if report.dry_run:
        entry.ttl_set += len(no_ttl)
        return
    expire_if_none = client.register_script(_EXPIRE_IF_NO_TTL)
    pipe = client.pipeline(transaction=False)
    for key in no_ttl:
        expire_if_none(keys=[key], args=[fix], client=pipe)
    done = pipe.execute()
    _count(tally, done)
    entry.ttl_set += sum(1 for ok in done if ok == 1)


def _count(tally: _Tally, ttls: list[Any]) -> None:
    """Each TTL read is a keyspace hit, or a miss (-2) for a key gone since SCAN."""
    misses = sum(1 for t in ttls if t == -2)
    tally.misses += misses
    tally.hits += len(ttls) - misses


# EXPIRE ... NX needs Redis 7; this does the same, atomically, on any Redis since 2.6.
_EXPIRE_IF_NO_TTL = """
local ttl = redis.call('TTL', KEYS[1])
if ttl == -1 then
  return redis.call('EXPIRE', KEYS[1], ARGV[1])
end
if ttl == -2 then
  return -2
end
return 0
"""


@job(
    schedule="0 */6 * * *",
    description="Report the Redis cache's state (memory, hit rate, evictions, keys per prefix, "
    "keys without a TTL); optionally give TTL-less cache keys a TTL.",
    mutating=True,
    needs=("redis",),
    options=[
        options.cache_prefixes,
        click.option(
            "--fix-missing-ttl",
            type=click.IntRange(min=1, max=10**12),  # Redis refuses an expiry past 2**63 ms
            metavar="SECONDS",
            help="Give cache keys that have no TTL this TTL (only if they still have none: an "
            "app's TTL is never changed).",
        ),
        click.option(
            "--max-keys",
            type=click.IntRange(min=1),
            default=100_000,
            show_default=True,
            help="Stop scanning after this many keys in all.",
        ),
    ],
)
def cleanup_redis_cache(ctx: JobContext) -> CacheReport:
    from cronjobs.settings import parse_prefixes

    settings = ctx.settings
    given: tuple[str, ...] = ()  # --cache-prefix, repeated or comma-separated (or from Python)
    for value in ctx.options.get("cache_prefixes") or ():
        given += parse_prefixes(value)
    return cleanup(
        settings.require_redis(),
        given or settings.cache_prefixes,
        timeout=settings.timeout,
        max_keys=ctx.options["max_keys"],
        fix_missing_ttl=ctx.options["fix_missing_ttl"],
        dry_run=ctx.dry_run,
        stop=ctx.stop,
    )


def cleanup(
    url: str,
    prefixes: tuple[str, ...],
    *,
    timeout: float = 5.0,
    **options: Any,
) -> CacheReport:
    """Connect to Redis and run `inspect_cache`, turning Redis errors into DependencyError."""
    import redis

    from cronjobs.errors import DependencyError
    from cronjobs.redact import redact_url

    client = connect(url, timeout)
    try:
        return inspect_cache(client, prefixes, **options)
    except redis.exceptions.AuthenticationError as e:
        raise DependencyError(
            f"Redis at {redact_url(url)} refused the credentials ({e}); check REDIS_URL"
        ) from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
        raise DependencyError(
            f"cannot reach Redis at {redact_url(url)}: {e}. Check REDIS_URL and that the server "
            "is up"
        ) from None
    except redis.exceptions.RedisError as e:
        raise DependencyError(f"Redis at {redact_url(url)} answered with an error: {e}") from None
    finally:
        client.close()
