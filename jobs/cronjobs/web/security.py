"""What guards the router's changes: cross-site refusal (CSRF), error translation, name checks.

A change is a POST that passes three checks, in this order, each with its own refusal:
1. the router has an auth dependency (else 403: read-only);
2. it is not cross-site: `Sec-Fetch-Site` is not cross-site/same-site, and `Origin`, when sent,
   is this server's own; and it carries `X-CSRF-Token` equal to the `cronctl_csrf` cookie, a
   token this router signed (double submit: a cross-site page can neither read the cookie nor
   set the header without a CORS preflight, which the router never answers);
3. the auth dependency names who is acting (recorded as the actor).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import NoReturn

from fastapi import HTTPException, Request

from cronjobs.cronctl.errors import (
    ApiError,
    ConfigError,
    Conflict,
    CronctlError,
    Forbidden,
    NotFound,
    Refused,
    Unreachable,
)

CSRF_COOKIE = "cronctl_csrf"
CSRF_HEADER = "X-CSRF-Token"
READ_ONLY = (
    "read-only: this dashboard has no auth method, so it cannot suspend, resume or trigger "
    "(mount the router with an auth dependency, or start `cronctl serve` with --tokens-file)"
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class Csrf:
    """Mints and checks the double-submit tokens: `<nonce>.<HMAC-SHA256(secret, nonce)>`."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def mint(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._sign(nonce)}"

    def valid(self, token: str | None) -> bool:
        nonce, _, signature = (token or "").partition(".")
        return bool(nonce) and hmac.compare_digest(signature, self._sign(nonce))

    def token_for(self, request: Request) -> str:
        """The request's cookie token when it is ours, else a new one (set it on the reply)."""
        current = request.cookies.get(CSRF_COOKIE)
        return current if current and self.valid(current) else self.mint()

    def check(self, request: Request) -> None:
        """Refuse (403) a cross-site request or one without a matching, signed token."""
        site = request.headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site"):
            refuse(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        if origin is not None and origin != own:
            refuse(403, f"cross-site request refused: Origin {origin} is not {own}")
        header, cookie = request.headers.get(CSRF_HEADER), request.cookies.get(CSRF_COOKIE)
        if not header or not cookie or not hmac.compare_digest(header, cookie):
            refuse(
                403,
                f"missing or mismatched CSRF token: send the {CSRF_HEADER} header with the value "
                f"of the {CSRF_COOKIE} cookie (GET api/session returns both)",
            )
        if not self.valid(header):
            refuse(403, "invalid CSRF token: reload the page (GET api/session for a new one)")


def refuse(status: int, message: str) -> NoReturn:
    raise HTTPException(status_code=status, detail=message)


def check_name(name: str) -> str:
    """A CronJob or Job name must be a DNS label, before it goes near the API server."""
    if not _NAME.match(name):
        refuse(
            400,
            f'invalid name "{name[:80]}": use at most 63 lowercase letters, digits and "-", '
            "starting and ending with a letter or digit",
        )
    return name


def status_for(error: CronctlError) -> int:
    """The HTTP status for each of cronctl's flat errors."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Refused | Conflict):
        return 409
    if isinstance(error, ConfigError):
        return 400
    if isinstance(error, Unreachable):
        return 503
    if isinstance(error, ApiError):
        return 502
    return 409  # CronctlError: the request cannot be met as things stand (e.g. no runs yet)


def translate(error: CronctlError) -> NoReturn:
    raise HTTPException(status_code=status_for(error), detail=str(error)) from error
