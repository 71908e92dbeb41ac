"""`cronjobs --version` in the image, on the chart's read-only root: the Dockerfile as it is
(standard library compiled at build time) against the same Dockerfile without its compileall
line (the official base ships no bytecode, so each command compiles what it imports, in memory,
every time), side by side in one run, as a ratio (issue 21).

Needs root, podman, runc and debootstrap (as `make image-test`): both images are built on the
test suite's stand-in base (tests/image/base.sh), and run with the flags the chart's pod spec
gives (tests/image/podman.py). Inside each container a small timer runs the command `--runs`
times in a row; the two images alternate `--rounds` times.

    .venv/bin/python bench/image_startup.py [--rounds 3] [--runs 10] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "image"))

from image_helpers import DockerIgnore  # noqa: E402
from podman import Podman, chart_pod_specs, ensure_base, pod_run, run_argv  # noqa: E402

TIMER = """
import subprocess, sys, time
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    subprocess.run(["cronjobs", "--version"], check=True, stdout=subprocess.DEVNULL)
    print(time.perf_counter() - start)
"""


def uncompiled_context(into: Path) -> Path:
    """The build context with a Dockerfile that leaves the standard library uncompiled."""
    for rel in [*DockerIgnore.read().context_files(), ".dockerignore"]:
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, into / rel)
    lines = (REPO / "Dockerfile").read_text().splitlines(keepends=True)
    kept = [line for line in lines if "python -m compileall" not in line]
    assert len(kept) == len(lines) - 1, "the Dockerfile has no single compileall line to leave out"
    (into / "Dockerfile").write_text("".join(kept))
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10, help="commands per container")
    parser.add_argument("--keep", action="store_true", help="keep the two images afterwards")
    opts = parser.parse_args()

    podman = Podman()
    base = ensure_base(podman)
    print(f"base: {base}", file=sys.stderr)
    images = {"compiled (Dockerfile)": "localhost/cronjobs:bench-compiled"}
    podman.build(REPO, images["compiled (Dockerfile)"], {"PYTHON_IMAGE": base})
    with tempfile.TemporaryDirectory() as tmp:
        images["stdlib not compiled"] = "localhost/cronjobs:bench-uncompiled"
        podman.build(uncompiled_context(Path(tmp)), images["stdlib not compiled"],
                     {"PYTHON_IMAGE": base})  # fmt: skip

    helm = REPO / ".tools" / "bin" / "helm"
    pod = pod_run(chart_pod_specs(helm, REPO / "charts" / "cronjobs")[0])
    times: dict[str, list[float]] = {label: [] for label in images}
    for round_ in range(opts.rounds):
        for label, image in images.items():
            argv = run_argv(podman, pod, image, ["-c", TIMER, str(opts.runs)], entrypoint="python")
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            times[label] += [float(t) for t in out.split()]
            print(f"round {round_ + 1}: {label} done", file=sys.stderr)

    compiled = statistics.median(times["compiled (Dockerfile)"])
    print(f"`cronjobs --version` in the container, {opts.rounds} x {opts.runs} runs per image\n")
    print("| image | median s | min s | max s | x of compiled |")
    print("|---|---|---|---|---|")
    for label, values in times.items():
        median = statistics.median(values)
        print(
            f"| {label} | {median:.3f} | {min(values):.3f} | {max(values):.3f} "
            f"| {median / compiled:.2f} |"
        )
    for image in [] if opts.keep else images.values():
        podman("rmi", "--force", image, check=False)


if __name__ == "__main__":
    main()
