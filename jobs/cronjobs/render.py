"""Turning results into output: readable lines, or JSON with a stable shape."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime
from enum import Enum
from typing import Any

_PROPERTIES = ("exit_code", "interrupted", "healthy", "hit_rate")


def to_data(value: Any) -> Any:
    """Plain JSON-able data: dataclass fields plus their summary properties."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for prop in _PROPERTIES:
            if prop not in data and hasattr(type(value), prop):
                data[prop] = to_data(getattr(value, prop))
        return data
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 row`, `2 rows`: a count for the summary lines."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def to_json(value: Any) -> str:
    return json.dumps(to_data(value), indent=2, default=str)


def table(rows: list[dict[str, str]], columns: list[str]) -> str:
    widths = {c: max([len(c), *(len(r.get(c, "")) for r in rows)]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r.get(c, "").ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
