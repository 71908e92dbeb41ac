"""Build the image with podman and run it as the chart's CronJobs run it.

- `Podman`: the podman CLI with the options this kind of machine needs (runc: crun fails on
  hybrid cgroups; cgroupfs: no systemd; rlimits given explicitly: podman's defaults are refused).
- `ensure_base`: the stand-in for the Dockerfile's PYTHON_IMAGE (tests/image/base.sh), kept in
  podman's store under a tag keyed by base.sh's sha256, so a rerun does not build it again.
- `pod_run`: the podman flags for a pod spec of `helm template charts/cronjobs`: whatever the
  chart's securityContext, volumes, resources and env say, so a change to them is tested here
  rather than a hand-copied list. A field it cannot mimic is an error, not a silent omission.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASE_SCRIPT = HERE / "base.sh"
BASE_REPO = "localhost/cronjobs-test-base"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

GLOBAL = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
RLIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


class PodmanError(AssertionError):
    """A podman command failed; the message holds its command line and output."""


@dataclass(frozen=True)
class Podman:
    executable: str = "podman"

    def argv(self, *args: str) -> list[str]:
        return [self.executable, *GLOBAL, *args]

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(*args),
            capture_output=True, text=True, timeout=timeout, check=False, input=input,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise PodmanError(
                f"{shlex.join(self.argv(*args))} exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
            )
        return proc

    def image_exists(self, name: str) -> bool:
        return self("image", "exists", name, check=False).returncode == 0

    def build(
        self,
        context: Path,
        tag: str,
        build_args: dict[str, str],
        dockerfile: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """`podman build` as docs/image.md says, plus what this machine needs to reach PyPI:
        the host network and the host's CA bundle and pip index, mounted for the build only
        (never copied into a layer)."""
        with build_pip_config() as pip_conf:
            return self(
                "build", "--format", "docker", "--network", "host", *RLIMITS,
                "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
                "-v", f"{pip_conf}:/etc/pip.conf:ro",
                *[f"--build-arg={k}={v}" for k, v in build_args.items()],
                *(["--file", str(dockerfile)] if dockerfile else []),
                "--tag", tag, str(context),
                timeout=1200, check=check,
            )  # fmt: skip


def host_pip_settings() -> dict[str, str]:
    """The index settings of this machine's pip configuration that a build can use (http(s)
    indexes only: a file:// index on the host is not inside the build)."""
    proc = subprocess.run(
        ["python3", "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if name in ("index-url", "trusted-host") and value:
            found[name] = value
        elif name == "extra-index-url":
            urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
            if urls:
                found[name] = " ".join(urls)
    return found


@contextmanager
def build_pip_config() -> Iterator[Path]:
    """A pip.conf for the build: the host's CA bundle (mounted at the same path) and index."""
    settings = {"cert": str(CA_BUNDLE), **host_pip_settings()}
    with tempfile.TemporaryDirectory(prefix="cronjobs-pip-") as tmp:
        path = Path(tmp) / "pip.conf"
        path.write_text("[global]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        path.chmod(0o644)
        yield path


def base_image_name() -> str:
    digest = hashlib.sha256(BASE_SCRIPT.read_bytes()).hexdigest()[:16]
    return f"{BASE_REPO}:{digest}"


def ensure_base(podman: Podman) -> str:
    """The stand-in base image, built by base.sh unless podman's store already holds it."""
    name = base_image_name()
    if not podman.image_exists(name):
        proc = subprocess.run(
            ["bash", str(BASE_SCRIPT), name], capture_output=True, text=True, timeout=1200,
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise PodmanError(f"{BASE_SCRIPT} failed:\n{proc.stdout}\n{proc.stderr}")
        # Older bases (from an earlier base.sh) only take space.
        tags = podman("images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPO).stdout.split()
        for old in set(tags) - {name}:
            podman("rmi", old, check=False)
    return name


# ---- the chart's pod spec as podman flags ----------------------------------------------------


class NotMimicked(ValueError):
    """A pod spec field that pod_run does not know how to reproduce with podman."""


@dataclass(frozen=True)
class PodRun:
    flags: tuple[str, ...]  # podman run flags (user, capabilities, read-only root, /tmp, limits)
    env: dict[str, str]  # the container's literal env values (Secret refs are the test's part)
    termination_message_path: str | None
    command: tuple[str, ...]  # the container's command (replaces the ENTRYPOINT); () for none
    args: tuple[str, ...]


_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|k|M|G)?$")
_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity_bytes(value: str | int) -> int:
    """A Kubernetes memory quantity (64Mi, 512M, 1Gi, 1000) in bytes."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise NotMimicked(f"quantity {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _security_flags(ctx: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    handled = {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups"}
    if "runAsUser" in ctx:
        group = ctx.get("runAsGroup")
        flags += ["--user", f"{ctx['runAsUser']}" + (f":{group}" if group is not None else "")]
    if ctx.get("runAsNonRoot") and ctx.get("runAsUser") == 0:
        raise NotMimicked("runAsNonRoot with runAsUser 0: Kubernetes would refuse to start it")
    for group in [ctx["fsGroup"]] if "fsGroup" in ctx else []:
        flags += ["--group-add", str(group)]  # the kubelet adds fsGroup to the process's groups
    for group in ctx.get("supplementalGroups", []):
        flags += ["--group-add", str(group)]
    for key, value in ctx.items():
        if key in handled:
            continue
        if key == "readOnlyRootFilesystem":
            # --read-only-tmpfs=false: else podman mounts writable tmpfs on /run, /var/tmp...
            flags += ["--read-only", "--read-only-tmpfs=false"] if value else []
        elif key == "allowPrivilegeEscalation":
            flags += [] if value else ["--security-opt", "no-new-privileges"]
        elif key == "privileged":
            flags += ["--privileged"] if value else []
        elif key == "capabilities":
            flags += [f for cap in value.get("drop", []) for f in ("--cap-drop", cap)]
            flags += [f for cap in value.get("add", []) for f in ("--cap-add", cap)]
            if set(value) - {"drop", "add"}:
                raise NotMimicked(f"securityContext.capabilities {sorted(value)}")
        elif key == "seccompProfile":
            if value.get("type") == "Unconfined":
                flags += ["--security-opt", "seccomp=unconfined"]
            elif value.get("type") != "RuntimeDefault":  # podman's default profile
                raise NotMimicked(f"securityContext.seccompProfile {value}")
        else:
            raise NotMimicked(f"securityContext.{key}: teach tests/image/podman.py to mimic it")
    return flags


def pod_run(pod: dict[str, Any]) -> PodRun:
    """The podman flags that run a rendered pod spec's only container as the kubelet would."""
    (container,) = pod["containers"]
    # The container's securityContext overrides the pod's, field by field (pod-only fields,
    # fsGroup and supplementalGroups, come from the pod's).
    ctx = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    flags = _security_flags(ctx)

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if set(volume) != {"name", "emptyDir"} or mount.get("readOnly") or mount.get("subPath"):
            raise NotMimicked(f"volume {volume} mounted as {mount}")
        options = ["rw", "exec", "mode=1777"]
        if "sizeLimit" in (volume["emptyDir"] or {}):
            options.append(f"size={quantity_bytes(volume['emptyDir']['sizeLimit'])}")
        flags += ["--tmpfs", f"{mount['mountPath']}:{','.join(options)}"]

    limits = container.get("resources", {}).get("limits", {})
    for key, value in limits.items():
        if key == "memory":
            flags += ["--memory", str(quantity_bytes(value))]
        elif key == "cpu":
            cpus = float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)
            flags += ["--cpus", str(cpus)]
        else:
            raise NotMimicked(f"resources.limits.{key}")

    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    return PodRun(
        tuple(flags),
        env,
        container.get("terminationMessagePath"),
        tuple(container.get("command", ())),
        tuple(container.get("args", ())),
    )


def chart_pod_specs(
    helm: Path, chart: Path, kind: str = "CronJob", *set_values: str
) -> list[dict[str, Any]]:
    """The pod spec of every CronJob (or Deployment) that `helm template` renders."""
    import yaml

    proc = subprocess.run(
        [str(helm), "template", "image-test", str(chart), *[f"--set={v}" for v in set_values]],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        raise PodmanError(f"helm template failed:\n{proc.stderr}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == kind]
    if kind == "CronJob":
        return [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in docs]
    return [d["spec"]["template"]["spec"] for d in docs]


def run_argv(
    podman: Podman,
    pod: PodRun,
    image: str,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    network: str = "none",
    termination_log: Path | None = None,
    name: str | None = None,
    detach: bool = False,
    remove: bool = True,
    entrypoint: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The `podman run` command line for one container of the pod."""
    volumes: list[str] = []
    if termination_log is not None:
        assert pod.termination_message_path, "the chart sets no terminationMessagePath"
        volumes = ["-v", f"{termination_log}:{pod.termination_message_path}:rw"]
    return podman.argv(
        "run", *(["--rm"] if remove else []), "--no-healthcheck", *RLIMITS, *pod.flags, *volumes,
        "--network", network,
        *(["--name", name] if name else []),
        *(["--detach"] if detach else []),
        *(["--entrypoint", entrypoint] if entrypoint else []),
        *extra,
        *[f"--env={k}={v}" for k, v in {**pod.env, **(env or {})}.items()],
        image, *args,
    )  # fmt: skip
