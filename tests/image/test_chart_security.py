"""The chart runs the image as the image expects: its uid/gid, a writable /tmp for HOME, the
`cronjobs` container whose args start with a subcommand, and the image tag = the image version."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from image_helpers import REPO, Stage

CHART = REPO / "charts" / "cronjobs"


def _pod_specs(helm_bin: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(helm_bin), "template", "image-test", str(CHART)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "CronJob"]
    assert docs
    return [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in docs]


def test_chart_security_context_matches_the_image_user(helm_bin: Path, final_stage: Stage) -> None:
    uid, gid = (int(x) for x in final_stage.all("USER")[0].args.split(":"))
    for pod in _pod_specs(helm_bin):
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["securityContext"]["runAsGroup"] == gid
        (container,) = pod["containers"]
        ctx = container["securityContext"]
        assert (ctx["runAsUser"], ctx["runAsGroup"]) == (uid, gid)
        assert ctx["runAsNonRoot"] is True and ctx["readOnlyRootFilesystem"] is True
        # HOME=/tmp in the image: the only writable path must be there.
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_chart_image_tag_defaults_to_the_image_version(helm_bin: Path, final_stage: Stage) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    args = dict(a.args.partition("=")[::2] for a in final_stage.all("ARG"))
    assert chart["appVersion"] == args["VERSION"]
    for pod in _pod_specs(helm_bin):
        (container,) = pod["containers"]
        assert container["image"] == f"cronjobs:{args['VERSION']}"
        assert container["imagePullPolicy"] == "IfNotPresent"
