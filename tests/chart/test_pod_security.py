"""The chart refuses values that break the "restricted" Pod Security Standard, unless the user opts
out with `podSecurity.allowNonRestricted=true` (and then NOTES.txt lists what breaks it).

The controls are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/
(Baseline and Restricted) that the chart's values can reach: the pod and container
securityContext, the AppArmor pod annotations and `extraVolumes`. Each rejected setting is checked
at `helm template` time (real helm): exit code 1 and a message that names the value path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chart_helpers import CHART, NAMESPACE, RELEASE, by_kind, run_helm

SET = "--set"
HC = "jobs.health-check"
OPT_OUT = "podSecurity.allowNonRestricted=true"
STANDARD = 'These values break the "restricted" Pod Security Standard'

REJECTED = [
    # (id, --set values, substrings of the message: the value path first)
    ("privileged", [f"{HC}.securityContext.privileged=true"],
     [f"{HC}.securityContext.privileged is true"]),
    ("privileged-default", ["jobDefaults.securityContext.privileged=true"],
     ["jobDefaults.securityContext.privileged is true"]),
    ("container-root-user", ["jobDefaults.securityContext.runAsUser=0"],
     ["jobDefaults.securityContext.runAsUser is 0 (root)", "use a non-zero user"]),
    ("pod-root-user", [f"{HC}.podSecurityContext.runAsUser=0"],
     [f"{HC}.podSecurityContext.runAsUser is 0 (root)"]),
    ("pod-run-as-non-root-false", ["jobDefaults.podSecurityContext.runAsNonRoot=false"],
     ["jobDefaults.podSecurityContext.runAsNonRoot is false", "set it to true"]),
    ("container-run-as-non-root-false", [f"{HC}.securityContext.runAsNonRoot=false"],
     [f"{HC}.securityContext.runAsNonRoot is false"]),
    ("run-as-non-root-unset",
     ["jobDefaults.securityContext.runAsNonRoot=null", "jobDefaults.podSecurityContext.runAsNonRoot=null"],
     ["neither jobDefaults.securityContext.runAsNonRoot nor "
      "jobDefaults.podSecurityContext.runAsNonRoot is set: set one to true"]),
    ("capability-added", [f"{HC}.securityContext.capabilities.add={{SYS_ADMIN,NET_BIND_SERVICE}}"],
     [f"{HC}.securityContext.capabilities.add adds SYS_ADMIN", "only NET_BIND_SERVICE"]),
    ("capabilities-not-dropped", [f"{HC}.securityContext.capabilities.drop={{NET_RAW}}"],
     [f'{HC}.securityContext.capabilities.drop is ["NET_RAW"]: it must include ALL']),
    ("seccomp-unconfined-pod", [f"{HC}.podSecurityContext.seccompProfile.type=Unconfined"],
     [f'{HC}.podSecurityContext.seccompProfile.type is "Unconfined"', "use RuntimeDefault"]),
    ("seccomp-unconfined-container", ["jobDefaults.securityContext.seccompProfile.type=Unconfined"],
     ['jobDefaults.securityContext.seccompProfile.type is "Unconfined"']),
    ("seccomp-unset",
     ["jobDefaults.securityContext.seccompProfile=null", "jobDefaults.podSecurityContext.seccompProfile=null"],
     ["neither jobDefaults.securityContext.seccompProfile.type nor "
      "jobDefaults.podSecurityContext.seccompProfile.type is set"]),
    ("privilege-escalation", [f"{HC}.securityContext.allowPrivilegeEscalation=true"],
     [f"{HC}.securityContext.allowPrivilegeEscalation is true: it must be false"]),
    ("privilege-escalation-unset", ["jobDefaults.securityContext.allowPrivilegeEscalation=null"],
     ["jobDefaults.securityContext.allowPrivilegeEscalation is not set: it must be false"]),
    ("host-path-volume", ["extraVolumes[0].name=host", "extraVolumes[0].hostPath.path=/"],
     ['extraVolumes[0] ("host") is a hostPath volume', "persistentVolumeClaim"]),
    ("nfs-volume",
     ["extraVolumes[0].name=share", "extraVolumes[0].nfs.server=nfs", "extraVolumes[0].nfs.path=/"],
     ['extraVolumes[0] ("share") is a nfs volume']),
    ("proc-mount-unmasked", [f"{HC}.securityContext.procMount=Unmasked"],
     [f'{HC}.securityContext.procMount is "Unmasked"']),
    ("selinux-type", ["jobDefaults.podSecurityContext.seLinuxOptions.type=spc_t"],
     ['jobDefaults.podSecurityContext.seLinuxOptions.type is "spc_t"', "container_t"]),
    ("selinux-user", [f"{HC}.securityContext.seLinuxOptions.user=system_u"],
     [f"{HC}.securityContext.seLinuxOptions.user is set"]),
    ("selinux-role", [f"{HC}.securityContext.seLinuxOptions.role=sysadm_r"],
     [f"{HC}.securityContext.seLinuxOptions.role is set"]),
    ("windows-host-process", ["jobDefaults.podSecurityContext.windowsOptions.hostProcess=true"],
     ["jobDefaults.podSecurityContext.windowsOptions.hostProcess is true"]),
    ("apparmor-field", [f"{HC}.securityContext.appArmorProfile.type=Unconfined"],
     [f'{HC}.securityContext.appArmorProfile.type is "Unconfined"']),
    ("apparmor-annotation",
     [f"{HC}.podAnnotations.container\\.apparmor\\.security\\.beta\\.kubernetes\\.io/cronjobs=unconfined"],
     [f"{HC}.podAnnotations.container.apparmor.security.beta.kubernetes.io/cronjobs is "
      '"unconfined"']),
    ("unsafe-sysctl",
     ["jobDefaults.podSecurityContext.sysctls[0].name=kernel.msgmax",
      "jobDefaults.podSecurityContext.sysctls[0].value=65536"],
     ['jobDefaults.podSecurityContext.sysctls[0] is "kernel.msgmax", not one of the safe sysctls']),
]  # fmt: skip

ACCEPTED = [
    # Settings the restricted profile allows: the chart must not reject them.
    ("net-bind-service", [f"{HC}.securityContext.capabilities.add={{NET_BIND_SERVICE}}"]),
    ("drop-all-and-more", [f"{HC}.securityContext.capabilities.drop={{ALL,NET_RAW}}"]),
    ("seccomp-localhost", [f"{HC}.securityContext.seccompProfile.type=Localhost",
                           f"{HC}.securityContext.seccompProfile.localhostProfile=p.json"]),
    ("seccomp-container-only", ["jobDefaults.podSecurityContext.seccompProfile=null"]),
    ("non-root-pod-only", ["jobDefaults.securityContext.runAsNonRoot=null"]),
    ("run-as-user-unset", ["jobDefaults.securityContext.runAsUser=null"]),
    ("selinux-container-t", [f"{HC}.podSecurityContext.seLinuxOptions.type=container_t",
                             f"{HC}.podSecurityContext.seLinuxOptions.level=s0:c1\\,c2"]),
    ("safe-sysctl", [f"{HC}.podSecurityContext.sysctls[0].name=net.ipv4.ip_unprivileged_port_start",
                     f"{HC}.podSecurityContext.sysctls[0].value=0"]),
    ("apparmor-runtime-default", [f"{HC}.securityContext.appArmorProfile.type=RuntimeDefault",
        f"{HC}.podAnnotations.container\\.apparmor\\.security\\.beta\\.kubernetes\\.io/cronjobs=runtime/default"]),
    ("proc-mount-default", [f"{HC}.securityContext.procMount=Default"]),
    ("core-volumes", ["extraVolumes[0].name=a", "extraVolumes[0].configMap.name=a",
                      "extraVolumes[1].name=b", "extraVolumes[1].secret.secretName=b",
                      "extraVolumes[2].name=c", "extraVolumes[2].persistentVolumeClaim.claimName=c",
                      "extraVolumes[3].name=d", "extraVolumes[3].csi.driver=secrets-store.csi.k8s.io",
                      "extraVolumes[4].name=e", "extraVolumes[4].emptyDir.medium=Memory"]),
]  # fmt: skip


def _sets(values: list[str]) -> list[str]:
    return [arg for value in values for arg in (SET, value)]


def _template(helm: Path, *args: str) -> tuple[int, str, str]:
    proc = run_helm(helm, "template", RELEASE, str(CHART), "-n", NAMESPACE, *args)
    return proc.returncode, proc.stdout, " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    ("values", "messages"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_a_setting_that_breaks_the_restricted_profile_is_rejected(
    helm_bin: Path, values: list[str], messages: list[str]
) -> None:
    code, stdout, stderr = _template(helm_bin, *_sets(values))
    assert code == 1, f"helm rendered {values}:\n{stdout[:1000]}"
    assert "Error: execution error" in stderr and "ERROR: " in stderr
    for message in messages:
        assert message in stderr
    assert STANDARD in stderr
    assert "set podSecurity.allowNonRestricted=true" in stderr


@pytest.mark.parametrize("values", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_a_setting_the_restricted_profile_allows_renders(helm_bin: Path, values: list[str]) -> None:
    code, _, stderr = _template(helm_bin, *_sets(values), "--show-only", "templates/cronjob.yaml")
    assert code == 0, stderr


def test_every_problem_is_named_in_one_message(helm_bin: Path) -> None:
    """Two bad values (one per job, one chart-wide) are both reported, each once."""
    code, _, stderr = _template(
        helm_bin,
        *_sets(
            ["jobDefaults.securityContext.runAsUser=0", f"{HC}.securityContext.privileged=true"]
        ),
    )
    assert code == 1
    assert stderr.count("jobDefaults.securityContext.runAsUser is 0") == 1
    assert f"{HC}.securityContext.privileged is true" in stderr


@pytest.mark.parametrize(
    "value",
    ["jobDefaults.hostNetwork=true", f"{HC}.hostPID=true", "hostIPC=true", f"{HC}.hostUsers=true"],
)
def test_host_namespaces_cannot_be_set(helm_bin: Path, value: str) -> None:
    """Guard: the pod spec fields the values do not expose stay unreachable (the schema)."""
    code, _, stderr = _template(helm_bin, SET, value)
    assert code == 1
    assert "additional properties" in stderr and value.split(".")[-1].split("=")[0] in stderr


def _notes(helm: Path, *args: str) -> str:
    proc = run_helm(
        helm, "install", RELEASE, str(CHART), "--dry-run=client", "-n", NAMESPACE, *args
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("NOTES:", 1)[1]


def _health_check_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (cj,) = [d for d in by_kind(docs, "CronJob") if d["metadata"]["name"].endswith("health-check")]
    return cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_opt_out_renders_the_setting_and_the_notes_warn(helm_bin: Path, render: Any) -> None:
    values = _sets(
        [
            OPT_OUT,
            f"{HC}.securityContext.privileged=true",
            "extraVolumes[0].name=host",
            "extraVolumes[0].hostPath.path=/var/run",
        ]
    )
    spec = _health_check_spec(render(*values))
    assert spec["containers"][0]["securityContext"]["privileged"] is True
    assert {"name": "host", "hostPath": {"path": "/var/run"}} in spec["volumes"]
    notes = _notes(helm_bin, *values)
    assert "WARNING: podSecurity.allowNonRestricted is true" in notes
    assert "pod-security.kubernetes.io/enforce=restricted" in notes
    assert f"  - {HC}.securityContext.privileged is true" in notes
    assert '  - extraVolumes[0] ("host") is a hostPath volume' in notes
    assert "Fix them and set podSecurity.allowNonRestricted=false." in notes


def test_the_opt_out_alone_still_warns(helm_bin: Path) -> None:
    notes = _notes(helm_bin, SET, OPT_OUT)
    assert "WARNING: podSecurity.allowNonRestricted is true" in notes
    assert "No value breaks it today" in notes


def test_no_warning_without_the_opt_out(helm_bin: Path) -> None:
    assert "allowNonRestricted" not in _notes(helm_bin)
