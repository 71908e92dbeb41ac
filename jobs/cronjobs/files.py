"""Reading a file a user names (a rules file, the app's source), safely: only a regular file,
opened without blocking (a FIFO would wait for a writer for ever), and at most so many bytes
(/dev/zero never ends)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cronjobs.errors import ConfigError


def read_regular(path: Path | str, display: str, max_bytes: int, hint: str) -> bytes:
    """The file's bytes; a ConfigError naming `display` (with `hint`, what to give instead)
    for anything but a regular file of at most `max_bytes`. OSError as `open` raises it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{display}: not a regular file ({_kind(mode)}): {hint}")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = (
            f"{max_bytes // (1024 * 1024)} MiB"
            if max_bytes >= 1024 * 1024
            else f"{max_bytes} bytes"
        )
        raise ConfigError(f"{display}: larger than {size}, which no such file is: {hint}")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO: reading it would wait for a writer"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a directory" if stat.S_ISDIR(mode) else "a socket or other special file"
