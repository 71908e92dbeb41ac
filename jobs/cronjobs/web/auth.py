"""The two auth methods `cronctl serve` offers; the app passes its own dependency instead.

Each is a FastAPI dependency that returns who is acting (recorded as the actor of a change) or
answers 401. Without one, the router is read-only.

- `BearerTokens(path)`: `Authorization: Bearer TOKEN`, checked against a file of `NAME TOKEN`
  lines (a mounted Secret; re-read on every change, so a rotated Secret takes effect without a
  restart). The actor is NAME. Tokens of fewer than 16 characters are refused at start-up.
- `TrustedHeader(name)`: the user an auth proxy (oauth2-proxy, Pomerium) puts in a header such
  as X-Forwarded-User. Only safe when every request comes through that proxy, which sets the
  header and drops any a client sent: enable it explicitly, and keep the Service unreachable
  from anything else (a NetworkPolicy).
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from fastapi import Request

from cronjobs.web.security import refuse

log = logging.getLogger(__name__)
MIN_TOKEN = 16


def read_tokens(path: Path) -> list[tuple[str, str]]:
    """(name, token) per non-blank, non-# line `NAME TOKEN`; ValueError says which line is bad."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, _, token = text.partition(" ")
        token = token.strip()
        if not token or len(token) < MIN_TOKEN:
            raise ValueError(
                f"{path}, line {number}: write `NAME TOKEN` with a token of at least "
                f"{MIN_TOKEN} characters (e.g. `alice $(openssl rand -hex 24)`)"
            )
        found.append((name, token))
    if not found:
        raise ValueError(f"{path} holds no `NAME TOKEN` line")
    return found


BROKEN = (
    "changes are unavailable: the dashboard's tokens file cannot be read (its log says why); "
    "ask whoever runs the dashboard to fix it"
)


class BearerTokens:
    """`Authorization: Bearer TOKEN` against the tokens file; the actor is the token's NAME.

    A file that cannot be read at start-up stops the server (`cronctl serve`: exit 2). One that
    becomes unreadable or malformed later (a bad rotation) fails closed: every change answers
    503 with BROKEN, and the log says once what is wrong, until the file is fixed (no restart
    needed). The previous tokens are not kept: a rotation may have been meant to revoke one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = path.stat().st_mtime_ns
        self._tokens: list[tuple[str, str]] | None = read_tokens(path)
        self._problem: str | None = None

    def _current(self) -> list[tuple[str, str]]:
        try:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._stamp, self._tokens = stamp, None
                self._tokens, self._problem = read_tokens(self.path), None
        except (OSError, ValueError) as e:
            problem = f"{e.strerror}: {self.path}" if isinstance(e, OSError) else str(e)
            if problem != self._problem:
                log.error("tokens file: %s; changes answer 503 until it is fixed", problem)
                self._problem = problem
            self._tokens = None
            if isinstance(e, OSError):
                self._stamp = None  # read it again once it is back, whatever its mtime
        if self._tokens is None:
            refuse(503, BROKEN)
        return self._tokens

    def __call__(self, request: Request) -> str:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            refuse(401, "sign in: send `Authorization: Bearer TOKEN` (the page's Sign in field)")
        matches = [
            name
            for name, token in self._current()
            if hmac.compare_digest(token.encode(), given.strip().encode())
        ]
        if not matches:
            refuse(401, "invalid token: check it with whoever runs the dashboard")
        return matches[0]


class TrustedHeader:
    """The user an auth proxy names in `header` (explicitly enabled: see the module docstring)."""

    def __init__(self, header: str) -> None:
        self.header = header

    def __call__(self, request: Request) -> str:
        user = request.headers.get(self.header, "").strip()
        if not user:
            refuse(401, f"sign in through the auth proxy: no {self.header} header")
        return user
