"""Connection URLs split strictly, so that a password is never read as a host, a port or a path.

A URL is read as RFC 3986 says: the authority ends at the first `/` or `?`, the user:password part
ends at its only `@`. A URL that cannot be split one way only (a raw `@`, `/`, `?` or `#` in the
password, say) is a configuration error that says to percent-encode the password. Messages about
a URL never quote its text; a URL that splits is shown with its password masked.

`secrets_in` reads every value that could be a password out of any string, split or not, so the
log and error scrubber knows them before anything is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from cronjobs.errors import ConfigError
from cronjobs.redact import MASK

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.S)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PIECES = re.compile(r"[@:/?#&=%\s\[\]]+")
SECRET_PARAMS = {"password", "sslpassword"}

ENCODE_HINT = (
    "percent-encode the password: @ as %40, / as %2F, ? as %3F, # as %23, % as %25, a space as "
    "%20 (python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=\"\"))' PW)"
)


@dataclass(frozen=True)
class URL:
    """A URL split into its parts; `username` and `password` are percent-decoded."""

    scheme: str
    username: str | None
    password: str | None
    host: str
    port: int | None
    path: str
    query: str

    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def display(self) -> str:
        """The URL with its password, and any password= parameter, shown as ***."""
        auth = ""
        if self.username is not None or self.password is not None:
            auth = (self.username or "") + (f":{MASK}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        query = "&".join(
            f"{k}={MASK if k.lower() in SECRET_PARAMS else v}" for k, v in self.params()
        )
        return f"{self.scheme}://{auth}{self.host}{port}{self.path}" + (
            f"?{query}" if query else ""
        )


def _unclear(name: str, why: str) -> ConfigError:
    return ConfigError(
        f"{name} cannot be read one way only: {why}. If a password holds these "
        f"characters, {ENCODE_HINT}"
    )


def split(url: str, name: str, *, needs_host: bool = True) -> URL:
    """Split `url` (named `name` in messages) or raise a ConfigError that quotes none of it."""
    m = _SCHEME.match(url)
    if m is None:
        raise ConfigError(f"{name} must look like scheme://host/..., e.g. postgresql://host/db")
    scheme, rest = m.group("scheme"), m.group("rest")
    if any(c.isspace() or not c.isprintable() for c in rest):
        raise _unclear(name, "it holds a space or a control character")
    if "#" in rest:
        raise _unclear(name, "it holds a '#'")
    if _BAD_PERCENT.search(rest):
        raise _unclear(name, "a '%' is not followed by two hex digits")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if authority.count("@") > 1:
        raise _unclear(name, "its user:password part holds more than one '@'")
    if "@" in tail:
        raise _unclear(name, "an '@' comes after the host (a '/' or '?' ends the host early)")
    userinfo, at, hostport = authority.rpartition("@")
    if "," in hostport:
        raise ConfigError(
            f"{name} names several hosts (h1,h2): give them as query parameters instead, "
            "e.g. postgresql://user:password@/db?host=h1:5432&host=h2:5432"
        )
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user)
        password = unquote(secret) if colon else None
    host, port = _host_port(hostport, name)
    if needs_host and not host:
        raise ConfigError(f"{name} has no host: expected {scheme}://user:password@host:port/...")
    path, _, query = tail.partition("?")
    return URL(scheme, username, password, host, port, path, query)


def _host_port(hostport: str, name: str) -> tuple[str, int | None]:
    if hostport.startswith("["):  # [IPv6]:port
        host, bracket, after = hostport.partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise _unclear(name, "the [IPv6] host is not closed by ']'")
        host, port_text = host + "]", after[1:] if after else None
    else:
        host, colon, port_text = hostport.rpartition(":")
        if not colon:
            host, port_text = hostport, None
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _unclear(name, "the port is not a number from 1 to 65535")
    return host, int(port_text)


def secrets_in(url: str) -> set[str]:
    """Every value in `url` that could be a password, whether or not the URL splits.

    For each `@` after the scheme, the text between the first `:` of the user part and that
    `@` is a candidate (raw and percent-decoded), as is every password= parameter; each piece
    of a candidate between URL delimiters counts too, so a message that quotes only part of a
    password (a library's "port 'Zq9X'") is still scrubbed.
    """
    m = _SCHEME.match(url)
    found: set[str] = set()
    if m is None:
        return found
    rest = m.group("rest")
    for at in (i for i, c in enumerate(rest) if c == "@"):
        _user, colon, secret = rest[:at].partition(":")
        if colon and secret:
            found.add(secret)
    for _, value in (
        (k, v) for k, v in parse_qsl(rest.partition("?")[2]) if k.lower() in SECRET_PARAMS
    ):
        found.add(value)
    found |= {unquote(s) for s in found}
    found |= {p for s in found for p in _PIECES.split(s) if len(p) >= 4}
    return {s for s in found if s}
