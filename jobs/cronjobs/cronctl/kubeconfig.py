"""What a kubeconfig (or a pod) gives cronctl, checked: the cluster's server URL, the errors the
kubernetes client only logs while it loads credentials, who is acting. No kubernetes import:
cronjobs.cronctl.api loads the configuration and calls these."""

from __future__ import annotations

import base64
import getpass
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from cronjobs.cronctl.errors import ConfigError
from cronjobs.redact import redact_url


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def check_server(host: str, config_file: str) -> None:
    """The cluster's server must be an http(s) URL with a host (an empty or malformed one
    is the kubeconfig's to fix, not a network problem)."""
    try:
        parts = urlsplit(host)
        ok = parts.scheme in ("https", "http") and bool(parts.hostname)
        _ = parts.port  # raises ValueError if it is not a number
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"cannot use kubeconfig {config_file}: the cluster's server is {redact_url(host)!r}, "
            "not a URL like https://HOST:6443: fix its clusters[].cluster.server"
        )


class _Collected(logging.Filter):
    """Takes the errors the kubernetes client logs on the root logger while it loads a
    kubeconfig (a failing exec plugin), so they become cronctl's error, not stray lines."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            self.messages.append(" ".join(record.getMessage().split()))
            return False
        return True


@contextmanager
def credential_errors() -> Iterator[list[str]]:
    collected = _Collected()
    logging.root.addFilter(collected)
    try:
        yield collected.messages
    finally:
        logging.root.removeFilter(collected)


def service_account(token_file: Path) -> str | None:
    """`system:serviceaccount:NS:NAME`, the `sub` claim of the pod's token (read, not verified:
    it only labels the audit annotations), or None."""
    try:
        payload = token_file.read_text().strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        subject = claims.get("sub")
    except (OSError, IndexError, ValueError, AttributeError):
        return None
    return subject if isinstance(subject, str) and subject else None


def login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None
