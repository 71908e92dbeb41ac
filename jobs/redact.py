"""Keep secrets (passwords in URLs, API keys) out of logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
# user:password@ in any scheme://... text; the password may hold '/', '#', '?' or '@' (the
# last '@' before the host ends it), so match lazily up to an '@' followed by a host.
_PASSWORD_IN_URL = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<pw>\S+?)@(?=[^@\s]*$|[\w.\[\]-]+[:/?\s]|[\w.-]+$)"
)
# password=... in a query string (libpq accepts ?password=, ?sslpassword=)
_PASSWORD_PARAM = re.compile(r"(?P<key>(?:ssl)?password=)[^&\s]+", re.I)
SECRET_PARAMS = {"password", "sslpassword"}


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or the query) replaced by ***."""
    return scrub(url, ())


def url_secrets(url: str) -> set[str]:
    """The secret values a URL carries: its password and any password= parameter."""
    found = {m.group("pw") for m in _PASSWORD_IN_URL.finditer(url)}
    try:
        found |= {unquote(p) for p in found}
        found |= {v for k, v in parse_qsl(urlsplit(url).query) if k.lower() in SECRET_PARAMS}
    except ValueError:
        pass
    return {s for s in found if s}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every known secret, and any password in a URL, replaced by ***."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _PASSWORD_PARAM.sub(rf"\g<key>{MASK}", text)
    return _PASSWORD_IN_URL.sub(rf"\g<head>:{MASK}@", text)
