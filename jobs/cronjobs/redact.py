"""Keep secrets (passwords in URLs, API keys) out of logs and error messages.

One registry per process: the entrypoint `remember`s every secret value it is given (before it
parses anything), and every log line, error message and traceback passes through `scrub`.

`scrub` takes time linear in the text's length (an app job may log 100k characters at once):
each remembered secret is one `str.replace`, and a password in a URL is found by one pass over
the text's `://` and `@` signs rather than by a backtracking regular expression.
"""

from __future__ import annotations

import bisect
import io
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

MASK = "***"
# A password in a URL is the text between `scheme://user:` and the first '@' after it that is
# followed by a host (the password may hold '/', '#', '?' or '@'; the last '@' before the host
# ends it), within one run of non-space characters:
_HEAD = re.compile(r"(?<![a-z0-9+.-])[0-9+.-]*[a-z][a-z0-9+.-]*://[^:/@\s]*:", re.I)
"""`scheme://user:` (the scheme's run of characters starts at its first letter)."""
_HOST_AT = re.compile(r"@(?=[^@\s]*$|[\w.\[\]-]+[:/?\s]|[\w.-]+$)", re.I)
"""An '@' followed by a host: the end of a password."""
_SPACE = re.compile(r"\s")
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
    if "password=" in text.lower():
        text = _PASSWORD_PARAM.sub(rf"\g<key>{MASK}", text)
    return _mask_url_passwords(text)


def _mask_url_passwords(text: str) -> str:
    """`scheme://user:PASSWORD@host` -> `scheme://user:***@host`, in one pass.

    For each `scheme://user:` in turn (after the previous password masked), the password runs
    to the first '@' followed by a host, at least one character on and before the next
    whitespace. The '@'s and the next whitespace are found once each, so the work is linear
    in the text's length whatever it holds."""
    if "://" not in text or "@" not in text:
        return text
    ends = [m.start() for m in _HOST_AT.finditer(text)]
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    space = -1  # the next whitespace at or after the password's start (len(text) if none)
    for head in _HEAD.finditer(text):
        if head.start() < done:
            continue  # inside a password already masked
        start = head.end()  # the password's first character
        if space < start:
            found = _SPACE.search(text, start)
            space = found.start() if found else len(text)
        i = bisect.bisect_left(ends, start + 1)
        if i == len(ends) or ends[i] >= space:
            continue  # no host after it in this run of characters: not a URL's password
        out += [text[done:start], MASK]
        done = ends[i]
    return "".join(out) + text[done:] if out else text


class _ScrubbedStream(io.TextIOBase):
    """A text stream that writes to `stream` line by line, each line scrubbed (a secret split
    over two writes of one line is still found). What is left of a line goes out on flush."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: list[str] = []

    def write(self, text: str) -> int:
        if "\n" not in text:
            self._pending.append(text)
            return len(text)
        head, _, rest = text.rpartition("\n")
        self._stream.write(scrub("".join([*self._pending, head, "\n"])))
        self._pending = [rest] if rest else []
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(scrub("".join(self._pending)))
            self._pending = []
        self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer... of the real one
        return getattr(self._stream, name)


@contextmanager
def scrubbed_output() -> Iterator[None]:
    """While the app's code runs (its import, its job): what it prints to sys.stdout or
    sys.stderr goes out scrubbed, as its log lines do. Writes to the file descriptors
    themselves (os.write, a child process) are not seen."""
    saved = sys.stdout, sys.stderr
    wrapped = [_ScrubbedStream(stream) for stream in saved]
    sys.stdout, sys.stderr = (cast(TextIO, w) for w in wrapped)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        for w in wrapped:
            w.flush()
