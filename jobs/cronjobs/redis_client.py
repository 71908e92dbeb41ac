"""The Redis client the jobs use (`ctx.redis`, cleanup-redis-cache, health-check): redis-py on
REDIS_URL with bounded waits, its URL's options checked at once. redis is imported on use."""

from __future__ import annotations

from typing import Any


def connect(url: str, timeout: float) -> Any:
    import redis

    from cronjobs.errors import ConfigError
    from cronjobs.redact import redact_url

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except ValueError as e:
        raise ConfigError(f"REDIS_URL is malformed ({e}): {redact_url(url)}") from e
    pool = client.connection_pool
    try:  # the URL's ?options become connection arguments: check them now, not at first use
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, ValueError, KeyError, redis.RedisError) as e:
        raise ConfigError(
            f"REDIS_URL has an option redis-py does not accept ({e}): remove or fix it in "
            f"{redact_url(url)}"
        ) from e
    return client
