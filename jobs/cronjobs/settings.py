"""Configuration: a frozen Settings object, read from the environment or from CLI flags.

`ENV` names every variable once; the CLI's options use the same names (`show_envvar`), so
`cronjobs <job> --help` documents them. Nothing here connects to anything: validation is
syntax only, and cheap.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cronjobs.errors import ConfigError
from cronjobs.redact import scrub
from cronjobs.urls import secrets_in, split

ENV = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "qdrant_url": "QDRANT_URL",
    "qdrant_api_key": "QDRANT_API_KEY",
    "qdrant_path": "QDRANT_PATH",
    "cache_prefixes": "CRONJOBS_CACHE_PREFIXES",
    "timeout": "CRONJOBS_TIMEOUT",
    "lock_timeout": "CRONJOBS_LOCK_TIMEOUT",
}

CONNECTIONS = ("database_url", "redis_url", "qdrant_url", "qdrant_api_key", "qdrant_path")
"""The settings that say where the app's services are: the app's own code reads them from the
environment too, so a flag for one is exported as its variable while the app's code runs."""

DEFAULT_CACHE_PREFIXES = ("cache:",)
DEFAULT_TIMEOUT = 5.0
DEFAULT_LOCK_TIMEOUT = 5.0
MIN_SECONDS, MAX_SECONDS = 0.1, 3600.0

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """SQLAlchemy URL, normalised to the psycopg 3 driver for PostgreSQL."""
    redis_url: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = field(default=None, repr=False)
    qdrant_path: str | None = None
    cache_prefixes: tuple[str, ...] = DEFAULT_CACHE_PREFIXES
    timeout: float = DEFAULT_TIMEOUT
    """Seconds to wait for a connection or a health check."""
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    """Seconds a delete may wait for a row lock the app holds before the batch gives up."""

    def __repr__(self) -> str:
        """The fields with every password and key masked (a job may log or return its
        settings)."""

        def shown(name: str) -> str:
            value = getattr(self, name)
            return "***" if name == "qdrant_api_key" and value else repr(value)

        fields = ", ".join(f"{f.name}={shown(f.name)}" for f in dataclasses.fields(self))
        return scrub(f"Settings({fields})", self.secrets())

    def __post_init__(self) -> None:
        if self.database_url is not None:
            object.__setattr__(self, "database_url", parse_database_url(self.database_url))
        if self.redis_url is not None:
            check_redis_url(self.redis_url)
        if self.qdrant_url is not None:
            check_http_url(self.qdrant_url, ENV["qdrant_url"])
        if self.qdrant_url and self.qdrant_path:
            raise ConfigError(
                f"both {ENV['qdrant_url']} and {ENV['qdrant_path']} are set: use the server URL "
                "or the local folder, not both"
            )
        for name in ("timeout", "lock_timeout"):
            value = getattr(self, name)
            if not MIN_SECONDS <= value <= MAX_SECONDS:  # also false for nan
                raise ConfigError(
                    f"{ENV[name]} must be a number of seconds from {MIN_SECONDS} to "
                    f"{MAX_SECONDS:.0f}, got {value}"
                )
        if not self.cache_prefixes or not all(self.cache_prefixes):
            raise ConfigError(
                f"{ENV['cache_prefixes']} must list at least one non-empty prefix (an empty one "
                "would match every key), e.g. cache:"
            )
        if self.qdrant_path is not None and not os.path.isdir(self.qdrant_path):
            raise ConfigError(
                f"{ENV['qdrant_path']} {self.qdrant_path!r} is not a folder: give the local Qdrant "
                f"folder the app uses, or {ENV['qdrant_url']} for a server"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables (empty values count as unset)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(ENV[name]) or None

        return cls(
            database_url=get("database_url"),
            redis_url=get("redis_url"),
            qdrant_url=get("qdrant_url"),
            qdrant_api_key=get("qdrant_api_key"),
            qdrant_path=get("qdrant_path"),
            cache_prefixes=parse_prefixes(get("cache_prefixes")),
            timeout=parse_seconds(get("timeout"), ENV["timeout"], DEFAULT_TIMEOUT),
            lock_timeout=parse_seconds(
                get("lock_timeout"), ENV["lock_timeout"], DEFAULT_LOCK_TIMEOUT
            ),
        )

    def require_database(self) -> str:
        if not self.database_url:
            raise ConfigError(
                f"{ENV['database_url']} is not set: give the app's database URL, e.g. "
                "postgresql://user:password@host:5432/app (or --database-url)"
            )
        return self.database_url

    def require_redis(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                f"{ENV['redis_url']} is not set: give the cache's URL, e.g. "
                "redis://host:6379/0 (or --redis-url)"
            )
        return self.redis_url

    @property
    def qdrant_configured(self) -> bool:
        return bool(self.qdrant_url or self.qdrant_path)

    def secrets(self) -> set[str]:
        """Every secret value these settings hold, to scrub from logs and messages."""
        return secrets_of(self.database_url, self.redis_url, self.qdrant_url, self.qdrant_api_key)


def parse_database_url(url: str) -> str:
    """Check a database URL and normalise it for SQLAlchemy with psycopg 3."""
    name = ENV["database_url"]
    scheme = url.partition(":")[0].lower()
    if scheme in _SQLITE_SCHEMES:
        if not url.lower().startswith(f"{scheme}:///"):
            raise ConfigError(
                f"{name} for SQLite needs three slashes and a path, e.g. sqlite:///data/app.db"
            )
        return url
    parts = split(url, name, needs_host=False)
    if parts.scheme.lower() not in _POSTGRES_SCHEMES:
        raise ConfigError(
            f"{name} has an unsupported scheme {parts.scheme!r}: use postgresql://... or "
            f"sqlite:///path; got {parts.display()}"
        )
    if not parts.host and "host" not in dict(parts.params()):
        raise ConfigError(f"{name} has no host: expected postgresql://user:password@host:5432/db")
    if not parts.path.strip("/"):
        raise ConfigError(f"{name} names no database: add /dbname, got {parts.display()}")
    for key, value in parts.params():
        if key == "connect_timeout" and not value.strip().isdigit():
            raise ConfigError(
                f"{name} has connect_timeout={value!r}: it is a whole number of seconds (the "
                f"jobs wait at most {ENV['timeout']}, --timeout, to connect); got {parts.display()}"
            )
    return "postgresql+psycopg" + url[len(parts.scheme) :]


def check_redis_url(url: str) -> None:
    name = ENV["redis_url"]
    parts = split(url, name, needs_host=False)
    if parts.scheme not in _REDIS_SCHEMES:
        raise ConfigError(
            f"{name} must start with redis://, rediss:// or unix://; got {parts.display()}"
        )
    if parts.scheme != "unix" and not parts.host:
        raise ConfigError(f"{name} has no host: expected redis://host:6379/0")
    db = parts.path.strip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise ConfigError(
            f"{name} database must be a number from 0 (redis://host:6379/0), got {db!r}"
        )


def check_http_url(url: str, name: str) -> None:
    parts = split(url, name, needs_host=False)
    if parts.scheme not in {"http", "https"} or not parts.host:
        raise ConfigError(f"{name} must be http(s)://host:port, got {parts.display()}")


def secrets_of(
    database_url: str | None, redis_url: str | None, qdrant_url: str | None, api_key: str | None
) -> set[str]:
    """The secret values in these settings, whether or not they are valid."""
    found = {api_key or ""}
    for url in (database_url, redis_url, qdrant_url):
        if url:
            found |= secrets_in(url)
    return {s for s in found if s}


def parse_prefixes(value: str | None) -> tuple[str, ...]:
    """Comma-separated prefixes; an empty one is an error, never a match-everything prefix."""
    if value is None:
        return DEFAULT_CACHE_PREFIXES
    prefixes = tuple(p.strip() for p in value.split(","))
    if not all(prefixes):
        raise ConfigError(
            f"{ENV['cache_prefixes']} / --cache-prefix holds an empty prefix ({value!r}): an empty "
            "prefix would match every key; give prefixes like cache:,session:"
        )
    return prefixes


def parse_seconds(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ConfigError(
            f"{name} must be a number of seconds from {MIN_SECONDS} to {MAX_SECONDS:.0f}, "
            f"got {value!r}"
        )
    return seconds


def connection_environ(values: Mapping[str, Any]) -> dict[str, str]:
    """The variables (DATABASE_URL, ...) that the connection flags given in `values` (click's
    parameters, by name) stand for, with the values as given."""
    return {ENV[name]: str(values[name]) for name in CONNECTIONS if values.get(name)}


def flags_in(args: Sequence[str]) -> dict[str, str]:
    """The connection flags among a subcommand's raw arguments (`--database-url URL` or
    `--database-url=URL`; the last one wins, as with click; nothing after `--`), by name:
    read before click parses them, to export them before the app's modules are imported."""
    flags = {"--" + name.replace("_", "-"): name for name in CONNECTIONS}
    found: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i] != "--":
        flag, equals, value = args[i].partition("=")
        if flag in flags and equals:
            found[flags[flag]] = value
        elif flag in flags and i + 1 < len(args):
            found[flags[flag]] = args[i + 1]
            i += 1
        i += 1
    return found


@contextmanager
def exported(variables: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then put back what was there."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
