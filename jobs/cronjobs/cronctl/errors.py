"""The few flat exceptions cronctl raises; every library error is translated into one of these.

`cronjobs.cronctl.api` is the only place that turns Kubernetes client and network errors into these
(kr8s-style: one choke point). Each carries the exit code the CLI returns, from `ExitCode`.
"""

from __future__ import annotations

from cronjobs.exitcodes import ExitCode

VIEWER_HINT = (
    "the chart's viewer Role grants it: bind it to you with controller.rbac.viewer.subjects "
    "(Role <release>-cronjobs-cronctl-viewer), or ask your cluster admin"
)
OPERATOR_HINT = (
    "the chart's operator Role grants it: bind it to you with controller.rbac.operator.subjects "
    "(Role <release>-cronjobs-cronctl-operator, with the viewer Role), or ask your cluster admin"
)
REMOVE_HINT = (
    "only the chart's controller Role grants it, with controller.rbac.allowRemove: true (bind it "
    "with controller.rbac.subjects), or ask your cluster admin"
)
READ_VERBS = ("get", "list", "watch")
CLUSTER_RBAC_HINT = (
    "that takes a ClusterRole and ClusterRoleBinding (the chart's namespaced Role cannot grant "
    "it): ask your cluster admin, or use -n NAMESPACE instead of -A"
)


class CronctlError(Exception):
    """Base class: the message says what happened and what to do."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(CronctlError):
    """No cluster configured, a missing context, a malformed kubeconfig or a bad argument."""

    exit_code = ExitCode.USAGE


class NoLogs(CronctlError):
    """The run asked for has no logs to read: no run, not a run of the CronJob, or its pods are
    gone (`cronctl logs` then shows what the keeper's ledger kept, if anything)."""


class ApiError(CronctlError):
    """The API server answered with an error not covered by a subclass."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ApiError):
    def __init__(self, kind: str, name: str, namespace: str | None) -> None:
        where = f' in namespace "{namespace}"' if namespace else ""
        super().__init__(
            f'{kind} "{name}" not found{where}: check the name (`cronctl list`) and the '
            "namespace (-n/--namespace, -A)",
            status=404,
        )
        self.kind, self.name, self.namespace = kind, name, namespace


class Forbidden(ApiError):
    def __init__(
        self, verb: str, resource: str, namespace: str | None, detail: str = "", hint: str = ""
    ) -> None:
        scope = f'in namespace "{namespace}"' if namespace else "cluster-wide"
        group, _, plural = resource.partition("/")  # batch/cronjobs/status, /pods/log
        api_group = f'API group "{group}"' if group else "the core API group"
        super().__init__(
            f'forbidden: cronctl needs the "{verb}" verb on "{plural}" ({api_group}) {scope}; '
            f"{hint or (_role_hint(verb) if namespace else CLUSTER_RBAC_HINT)}."
            + (f" The server said: {detail}" if detail else ""),
            status=403,
        )
        self.verb, self.resource, self.namespace = verb, resource, namespace


def _role_hint(verb: str) -> str:
    """Which of the chart's Roles for people grants `verb`: reads the viewer Role, changes the
    operator Role, deleting a CronJob neither."""
    if verb == "delete":
        return REMOVE_HINT
    return VIEWER_HINT if verb in READ_VERBS else OPERATOR_HINT


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=409)


class Unreachable(CronctlError):
    """The API server could not be reached (connection refused, DNS, TLS, timeout)."""


class Refused(CronctlError):
    """cronctl refuses to act: a run is active and the CronJob forbids concurrency."""

    exit_code = ExitCode.SKIPPED


class HelmManaged(CronctlError):
    """remove_job on a CronJob that a Helm release owns, without force."""


class WaitTimeout(CronctlError):
    """`trigger --wait` gave up before the Job finished; the Job keeps running."""

    exit_code = ExitCode.TIMEOUT
