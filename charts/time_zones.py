"""Keep the time-zone list of charts/cronjobs/values.schema.json in sync with the tz database.

    .venv/bin/python charts/time_zones.py           rewrite `$defs.ianaTimeZone.enum` in the schema
    .venv/bin/python charts/time_zones.py --check   exit 1 if the list is stale

The list is Python's `zoneinfo.available_timezones()` (the system tz database plus the `tzdata`
package): the IANA names the API server loads for a CronJob's `timeZone`, legacy links such as
`US/Eastern` and `GMT` included, less the names that are not zones (`Local`, `localtime`,
`Factory`, the `posix/` and `right/` trees): `cronjobs.chart_values.time_zones`, which
`import-apscheduler` checks against too. tests/chart/test_bad_values.py runs the check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cronjobs.chart_values import time_zones

SCHEMA = Path(__file__).resolve().parent / "cronjobs" / "values.schema.json"


def zones() -> list[str]:
    """The time-zone names a CronJob may use (cronjobs.chart_values.time_zones), sorted."""
    return sorted(time_zones())


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
            print(f"{SCHEMA} is stale: run .venv/bin/python charts/time_zones.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
