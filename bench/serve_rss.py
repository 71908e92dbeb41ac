"""Issue 23 item 1: the memory of a long-running `cronctl serve` over thousands of requests.

Each request does the schedule work of one dashboard job page (it reloads every 30 s): the
ticks of the last 7 days, to `now - 1 min`, of a few CronJobs (every minute, every 5 minutes,
hourly, daily in New York), with `now` 30 s later each time, exactly as `explain` asks them
(cronjobs.cronctl.ticks.expected_ticks). A fresh process per checkout; its RSS (VmRSS) is sampled as
the requests go. Bar: flat (the last sample within 10% of the one after the first 10%).

    .venv/bin/python bench/serve_rss.py --requests 3000
    .venv/bin/python bench/serve_rss.py --requests 300 --baseline /tmp/main   # another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAT = 0.10

WORKER = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta
from cronjobs.cronctl import ticks

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

requests, every = int(sys.argv[1]), int(sys.argv[2])
start = datetime(2026, 3, 1, tzinfo=UTC)
created = (start - timedelta(days=30)).isoformat().replace("+00:00", "Z")
jobs = [
    {"metadata": {"creationTimestamp": created}, "spec": {"schedule": s, "timeZone": z}}
    for s, z in (("* * * * *", None), ("*/5 * * * *", None), ("0 * * * *", None),
                 ("30 2 * * *", "America/New_York"))
]
samples, began = [], time.perf_counter()
for i in range(requests):
    now = start + timedelta(seconds=30 * i)
    for cj in jobs:
        ticks.expected_ticks(cj, now - timedelta(days=7), now)
    if i % every == 0 or i == requests - 1:
        samples.append((i + 1, round(rss_mb(), 1)))
print(json.dumps({"samples": samples, "seconds": round(time.perf_counter() - began, 1)}))
"""


def measure(checkout: Path, requests: int) -> dict[str, object]:
    every = max(1, requests // 10)
    # the package is checkout/jobs/cronjobs (before 0.2: checkout/jobs, imported as jobs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "jobs"), str(checkout)])}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(requests), str(every)],
        capture_output=True, text=True, env=env, cwd=checkout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: {proc.stderr.strip()[-2000:]}")
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure the same way")
    args = parser.parse_args()
    runs = [("this checkout", HERE.parent)]
    if args.baseline:
        runs.append((f"baseline {args.baseline}", args.baseline))
    ok = True
    for label, checkout in runs:
        print(f"measuring {label} ({args.requests} requests)...", file=sys.stderr)
        result = measure(checkout, args.requests)
        samples = result["samples"]
        assert isinstance(samples, list)
        print(f"\n### {label}: {args.requests} requests in {result['seconds']} s\n")
        print("| requests | RSS MB |\n|---:|---:|")
        for n, mb in samples:
            print(f"| {n} | {mb} |")
        settled, last = samples[1][1], samples[-1][1]
        flat = last <= settled * (1 + FLAT)
        print(f"\nafter {samples[1][0]}: {settled} MB; at the end: {last} MB: "
              f"{'flat' if flat else 'GROWS'}")  # fmt: skip
        ok = ok and (flat or label != "this checkout")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
