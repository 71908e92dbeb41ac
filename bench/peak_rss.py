"""Run `cronjobs` and write its own peak RSS (VmHWM, kB) to BENCH_PEAK_RSS_OUT at exit.

`ru_maxrss` from wait4() is not enough when the bench process is large: Linux carries the
pre-exec peak into the child's figure (exec keeps the maximum of the forked copy's), so a
bench that has imported SQLAlchemy and built a writer's statements made every job look as big
as itself. VmHWM belongs to the job's own address space, after exec.
"""

from __future__ import annotations

import atexit
import os
import sys


def _dump() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["BENCH_PEAK_RSS_OUT"], "w") as out:
                    out.write(line.split()[1])
                return


def main() -> None:
    from cronjobs.cli import main as cronjobs

    atexit.register(_dump)
    sys.argv[0] = "cronjobs"
    cronjobs()
