"""Keep secrets (passwords in URLs, API keys) out of logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_PASSWORD_IN_URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"
)


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:{MASK}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return _PASSWORD_IN_URL.sub(rf"\g<scheme>\g<user>:{MASK}@", url)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every known secret, and any password in a URL, replaced by ***."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _PASSWORD_IN_URL.sub(rf"\g<scheme>\g<user>:{MASK}@", text)
