"""Keep the time-zone list of charts/cronjobs/values.schema.json in sync with the tz database.

    python charts/time_zones.py           rewrite `$defs.ianaTimeZone.enum` in the schema
    python charts/time_zones.py --check   exit 1 if the list is stale

The list is Python's `zoneinfo.available_timezones()` (the system tz database plus the `tzdata`
package): the IANA names the API server loads for a CronJob's `timeZone`, legacy links such as
`US/Eastern` and `GMT` included, less the names that are not zones (`Local`, `localtime`,
`Factory`, the `posix/` and `right/` trees). tests/chart/test_bad_values.py runs the check.
"""

from __future__ import annotations

import json
import sys
import zoneinfo
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent / "cronjobs" / "values.schema.json"
NOT_ZONES = {"Local", "localtime", "Factory"}
NOT_ZONE_PREFIXES = ("posix/", "right/")


def zones() -> list[str]:
    """The time-zone names a CronJob may use, sorted."""
    return sorted(
        name
        for name in zoneinfo.available_timezones()
        if name not in NOT_ZONES and not name.startswith(NOT_ZONE_PREFIXES)
    )


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def updated(text: str) -> str:
    """The schema text with the time-zone list regenerated."""
    schema = json.loads(text)
    schema["$defs"]["ianaTimeZone"]["enum"] = zones()
    return render(schema)


def main(argv: list[str]) -> int:
    text = SCHEMA.read_text()
    new = updated(text)
    if "--check" in argv:
        if new != text:
            print(f"{SCHEMA} is stale: run python charts/time_zones.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
