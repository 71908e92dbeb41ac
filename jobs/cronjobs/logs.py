"""Logging for the entrypoints: JSON lines in a pod, readable text on a terminal.

Library modules only call `logging.getLogger(__name__)`; `configure()` is called once by each
entrypoint. Every record carries the run id and job id bound with `bind()`, and passes through
a filter that scrubs secrets.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cronjobs.redact import remember, scrub

if TYPE_CHECKING:
    from pathlib import Path  # an annotation only: pathlib (urllib.parse, ipaddress) stays out

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as data.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


@contextmanager
def bind(**fields: str) -> Iterator[None]:
    """Add fields (job, run_id) to every record logged inside the block."""
    token = _context.set({**_context.get({}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


class _ContextAndScrub(logging.Filter):
    """Adds the bound fields, and scrubs secrets from the message, its data and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get({}).items():
            setattr(record, key, value)
        message = record.getMessage()
        clean = scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        for key, value in _extra(record).items():
            if isinstance(value, str):
                setattr(record, key, scrub(value))
            elif value is None or isinstance(value, bool | int | float):
                continue
            else:  # data, an exception, bytes, any object: scrubbed as the text it logs as
                text = _as_text(value)
                if scrub(text) != text:
                    setattr(record, key, scrub(text))
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _extra(record)
        prefix = " ".join(f"[{fields.pop(k)}]" for k in ("job", "run_id") if k in fields)
        data = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {prefix} {record.getMessage()}".replace("  ", " ")
        if data:
            line = f"{line} ({data})"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


def resolve_format(fmt: str) -> str:
    """`auto` means text on a terminal, JSON otherwise (a pod's stderr is not a terminal)."""
    if fmt != "auto":
        return fmt
    return "text" if sys.stderr.isatty() else "json"


_filter = _ContextAndScrub()


def to_file(path: Path) -> None:
    """Send every later log line to `path` (JSON lines) instead of stderr, scrubbed alike."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_filter)
    logging.getLogger().handlers[:] = [handler]


def configure(fmt: str = "auto", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr in the chosen format; call once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    remember(secrets)
    handler.addFilter(_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
