"""Keep secrets (passwords in URLs, API keys) out of logs and error messages.

One registry per process: the entrypoint `remember`s every secret value it is given (before it
parses anything), and every log line, error message and traceback passes through `scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# user:password@ in any scheme://... text; the password may hold '/', '#', '?' or '@' (the
# last '@' before the host ends it), so match lazily up to an '@' followed by a host.
_PASSWORD_IN_URL = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<pw>\S+?)@(?=[^@\s]*$|[\w.\[\]-]+[:/?\s]|[\w.-]+$)",
    re.I,
)
# password=... in a query string (libpq accepts ?password=, ?sslpassword=)
_PASSWORD_PARAM = re.compile(r"(?P<key>(?:ssl)?password=)[^&\s]+", re.I)

_known: set[str] = set()
MIN_SECRET = 3
"""Shorter values are not masked where they stand alone: masking every 'p' of a message would
make it unreadable and hide nothing a guess would not find."""


def remember(secrets: Iterable[str]) -> None:
    """Scrub these values from every later message of this process (or invocation)."""
    _known.update(s for s in secrets if len(s) >= MIN_SECRET)


def forget() -> None:
    """Start a new invocation with no remembered secrets (the CLI calls it first)."""
    _known.clear()


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or the query) replaced by ***."""
    return scrub(url, ())


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every remembered secret, these `secrets`, and any password in a URL
    replaced by ***."""
    given = (s for s in secrets if len(s) >= MIN_SECRET)
    for secret in sorted(_known.union(given), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _PASSWORD_PARAM.sub(rf"\g<key>{MASK}", text)
    return _PASSWORD_IN_URL.sub(rf"\g<head>:{MASK}@", text)
