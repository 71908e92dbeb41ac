"""Issue 23 item 5: `cronjobs.redact.scrub` time by text length, as ratios (linear: 3.3x the
length, ~3.3x the time; quadratic: ~11x).

Each shape at 10k, 30k and 100k characters, side by side in one run, the least CPU time
(`time.process_time`) of `--repeat` calls: a run
of one letter (the pre-fix scrubber took 0.8 s at 10k), a log line of URLs with masked
passwords, and two hostile shapes (`scheme://user:` repeated, its '@' after a space, and
'@'s after a scheme). `--before` adds the pre-fix regular expression at 10k and 30k only (at
100k it takes minutes).

    .venv/bin/python bench/scrub.py [--repeat 5] [--before]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import emit, table  # noqa: E402

from cronjobs.redact import remember, scrub  # noqa: E402

SIZES = (10_000, 30_000, 100_000)
LINE = "postgresql://app:S3cr3t@db:5432/app?sslmode=require k3y-1234 "
SHAPES: dict[str, Callable[[int], str]] = {
    "one letter": lambda n: "x" * n,
    "log of URLs": lambda n: (LINE * (n // len(LINE) + 1))[:n],
    "scheme://user: repeated, no host": lambda n: "a://u:" * (n // 6) + " @host",
    "@ after a scheme": lambda n: "a://u:" + "@x" * (n // 2),
}
_BEFORE = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<pw>\S+?)@(?=[^@\s]*$|[\w.\[\]-]+[:/?\s]|[\w.-]+$)",
    re.I,
)


def before(text: str) -> str:
    """The pre-fix scrubber's URL step (its other steps were already linear)."""
    return _BEFORE.sub(r"\g<head>:***@", text)


def best(f: Callable[[str], str], text: str, repeat: int) -> float:
    """The least CPU time of `repeat` calls: on a shared, loaded machine, wall time of a run
    longer than a scheduler slice grows with the load, not with the work."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        f(text)
        times.append(time.process_time() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="also the pre-fix regex (slow)")
    args = parser.parse_args()
    remember(["k3y-1234", "S3cr3t"])
    rows = []
    for shape, make in SHAPES.items():
        seconds = {n: best(scrub, make(n), args.repeat) for n in SIZES}
        row = {"shape": shape, **{f"{n // 1000}k ms": seconds[n] * 1000 for n in SIZES}}
        row["30k / 10k"] = seconds[30_000] / seconds[10_000]
        row["100k / 10k"] = seconds[100_000] / seconds[10_000]
        if args.before:
            old = {n: best(before, make(n), min(args.repeat, 2)) for n in SIZES[:2]}
            row["before 10k ms"] = old[10_000] * 1000
            row["before 30k / 10k"] = old[30_000] / old[10_000]
        rows.append(row)  # figures are CPU milliseconds
    columns = list(rows[0])
    emit(table("scrub: time by length (linear: 30k/10k ~3, 100k/10k ~10)", rows, columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
