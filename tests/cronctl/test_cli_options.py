"""What each command offers: --version, only the options a command honours, and the Python API
reading $KUBECONFIG (a path list too) as the CLI and kubectl do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cronjobs import __version__
from cronjobs.cronctl import CronJobController
from cronjobs.cronctl.api import ClientSettings
from cronjobs.cronctl.cli import cli
from tests.cronctl.conftest import Cluster


def options_of(command: str) -> set[str]:
    """The flags `cronctl COMMAND --help` lists."""
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    section = result.output.split("Options:", 1)[1]
    found = re.findall(r"^ {2}((?:-\w, )?--[\w-]+)", section, re.M)
    return {flag for entry in found for flag in entry.split(", ")}


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"cronctl, version {__version__}\n"


def test_help_documents_every_exit_code() -> None:
    from cronjobs.exitcodes import ExitCode

    out = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    documented = out.split("Exit codes: ", 1)[1].split(" Options:")[0]
    for code in ExitCode:
        assert f"{int(code)} " in documented, code
    assert "`check` found a problem" in documented and "exited 2" in documented


@pytest.mark.parametrize("command", ["trigger", "describe", "history", "logs", "next", "explain"])
def test_commands_on_one_cronjob_offer_no_selection(command: str) -> None:
    offered = options_of(command)
    assert "--namespace" in offered and "--kubeconfig" in offered
    assert not offered & {"-A", "--all-namespaces", "-l", "--selector"}, offered


def test_output_formats_are_those_the_command_renders() -> None:
    def formats(command: str) -> str:
        out = CliRunner().invoke(cli, [command, "--help"]).output
        match = re.search(r"-o, --output \[([a-z|]+)\]", out)
        return match[1] if match else "none"

    assert formats("list") == "table|wide|json|yaml"
    assert formats("history") == "table|wide|json|yaml"
    assert formats("trigger") == "table|json|yaml"
    assert formats("describe") == "table|json|yaml"
    assert formats("suspend") == "table|json|yaml"
    assert formats("logs") == "none"
    assert {"-A", "-l"} <= options_of("list") and {"-A", "-l"} <= options_of("suspend")


def test_meaningless_options_are_usage_errors(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")
    for args in (["trigger", "web-cronjobs-health-check", "-A"], ["describe", "x", "-l", "a=b"]):
        result = cluster.run(*args)
        assert result.exit_code == 2, args
        assert "No such option" in result.stderr
    wide = cluster.run("trigger", "web-cronjobs-health-check", "-o", "wide")
    assert wide.exit_code == 2 and "'wide' is not one of 'table', 'json', 'yaml'" in wide.stderr


def test_environment_defaults_for_list_do_not_break_other_commands(cluster: Cluster) -> None:
    """CRONCTL_ALL_NAMESPACES=1 and CRONCTL_OUTPUT=wide, set for `list`, used to make
    `describe NAME` fail ("a CronJob name needs one namespace"); now they apply where they mean
    something and are ignored elsewhere."""
    cluster.add_cronjob("web-cronjobs-health-check")
    env = {"CRONCTL_ALL_NAMESPACES": "1", "CRONCTL_OUTPUT": "wide"}
    described = cluster.run("describe", "web-cronjobs-health-check", env=env)
    assert described.exit_code == 0, described.stderr
    assert described.stdout.startswith("Name:               web-cronjobs-health-check\n")
    listed = cluster.run("list", env=env)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.split()[:1] == ["NAMESPACE"] and "CONCURRENCY" in listed.stdout


def test_python_api_honours_kubeconfig_and_a_path_list(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`CronJobController.connect()` and `ClientSettings()` read $KUBECONFIG like kubectl: a
    list of files merged in order (here the cluster and user in one file, the context in
    another), missing entries skipped."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    contexts = {k: config.pop(k) for k in ("contexts", "current-context")}
    first, second = tmp_path / "clusters.yaml", tmp_path / "contexts.yaml"
    first.write_text(yaml.safe_dump(config))
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", **contexts}))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config to fall back on
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing.yaml'}:{first}:{second}")
    cluster.add_cronjob("web-cronjobs-health-check")

    for controller in (
        CronJobController.connect(),
        CronJobController.connect(ClientSettings(request_timeout=5)),
    ):
        try:
            assert controller.namespace == cluster.namespace
            assert [i.name for i in controller.list_cronjobs()] == ["web-cronjobs-health-check"]
        finally:
            controller.close()
