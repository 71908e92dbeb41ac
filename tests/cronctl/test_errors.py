"""Every error path says what happened and what to do, with its documented exit code."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cronjobs.cronctl.cli import cli
from tests.cronctl.conftest import ROOT, Cluster


def run_with(kubeconfig: Path | None, *args: str, home: Path) -> object:
    env = {
        "KUBECONFIG": str(kubeconfig) if kubeconfig else "",
        "HOME": str(home),
        "KUBERNETES_SERVICE_HOST": "",
    }
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_no_cluster_configured_exits_2(tmp_path: Path) -> None:
    result = run_with(None, "list", home=tmp_path)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.stderr.startswith("Error: no cluster configured: no kubeconfig at ")  # type: ignore[attr-defined]
    assert "Pass --kubeconfig (or set KUBECONFIG)" in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]


def test_unknown_context_exits_2(cluster: Cluster) -> None:
    result = cluster.run("--context", "prod", "list")
    assert result.exit_code == 2
    assert 'Error: context "prod" not found in' in result.stderr
    assert "(contexts: emulator)" in result.stderr


def test_not_found_names_the_cronjob_and_namespace(cluster: Cluster) -> None:
    for command in ("describe", "history", "trigger", "logs", "resume"):
        result = cluster.run(command, "nope")
        assert result.exit_code == 1, command
        assert result.stderr == (
            f'Error: CronJob "nope" not found in namespace "{cluster.namespace}": check the '
            "name (`cronctl list`) and the namespace (-n/--namespace, -A)\n"
        )


def test_forbidden_names_the_missing_verb_and_resource(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    with cluster.emulator.deny("list", "batch/jobs"):
        result = cluster.run("list")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'Error: forbidden: cronctl needs the "list" verb on "jobs" (API group "batch") in '
        f'namespace "{cluster.namespace}"; the chart\'s viewer Role grants it: bind it to you '
        "with controller.rbac.viewer.subjects (Role <release>-cronjobs-cronctl-viewer), or ask "
        "your cluster admin."
    )
    with cluster.emulator.deny("patch", "batch/cronjobs"):
        patched = cluster.run("suspend", "web-cronjobs-health-check")
    assert patched.exit_code == 1 and '"patch" verb on "cronjobs"' in patched.stderr
    with cluster.emulator.deny("create", "batch/jobs"):
        created = cluster.run("trigger", "web-cronjobs-health-check")
    assert created.exit_code == 1 and '"create" verb on "jobs"' in created.stderr
    assert "controller.rbac.operator.subjects (Role <release>-cronjobs-cronctl-operator" in (
        created.stderr
    )
    with cluster.emulator.deny("list", "batch/cronjobs"):
        everywhere = cluster.run("list", "-A")
    assert everywhere.exit_code == 1
    assert everywhere.stderr.startswith(
        'Error: forbidden: cronctl needs the "list" verb on "cronjobs" (API group "batch") '
        "cluster-wide; that takes a ClusterRole and ClusterRoleBinding (the chart's namespaced "
        "Role cannot grant it): ask your cluster admin, or use -n NAMESPACE instead of -A."
    )


def test_rejected_credentials_exit_1_with_what_to_do(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    cluster.emulator.unauthorized = True
    try:
        result = cluster.run("list")
    finally:
        cluster.emulator.unauthorized = False
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the API server rejected the credentials (401 Unauthorized): renew them (log in "
        "again) or check --kubeconfig/--context\n"
    )


def test_unreachable_api_exits_1_without_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = run_with(path, "list", home=tmp_path)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert err.startswith(f"Error: cannot reach the Kubernetes API at http://127.0.0.1:{port}")
    assert "check that the cluster is up" in err and "Traceback" not in err

    verbose = run_with(path, "-v", "list", home=tmp_path)
    assert verbose.exit_code == 1  # type: ignore[attr-defined]
    assert "Traceback" in verbose.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["list", "-o", "xml"],
            "Invalid value for '-o' / '--output' (env var: 'CRONCTL_OUTPUT'): 'xml' is not one of",
        ),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["trigger"], "Missing argument 'NAME'"),
        (["resume", "--wait"], "No such option '--wait'"),
    ],
)
def test_bad_usage_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_with(None, *args, home=tmp_path)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]


def test_help_does_not_import_kubernetes_nor_the_controller() -> None:
    """`cronctl --help` loads the CLI's modules, not the controller's machinery (nor the
    kubernetes client): `cronjobs.cronctl` loads its public names on first use."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cronjobs.cronctl.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0 and 'trigger' in r.output, r.output\n"
        "print(sorted(m for m in ('kubernetes', 'cronjobs.cronctl.controller', "
        "'cronjobs.cronctl.ticks', 'cronjobs.cronctl.diagnose') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
