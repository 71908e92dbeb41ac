"""Exactly the Kubernetes API verbs cronctl uses: the chart's controller Role is tested against it.

Each entry is (apiGroup, resource, verbs), in the shape of a Role rule. `--wait` and `logs` poll
(get/list) rather than watch, so no `watch` verb is needed. cronctl also creates one
`authentication.k8s.io/selfsubjectreviews` (who am I, for the audit annotations), which every
authenticated user may do without a Role (Kubernetes 1.28+); if refused, it falls back quietly.
"""

from __future__ import annotations

Rule = tuple[str, str, tuple[str, ...]]

RULES: tuple[Rule, ...] = (
    ("batch", "cronjobs", ("get", "list", "patch")),
    ("batch", "cronjobs/status", ("patch",)),
    ("batch", "jobs", ("get", "list", "create")),
    ("", "pods", ("get", "list")),
    ("", "pods/log", ("get",)),
    ("", "events", ("list",)),
)
"""list/describe/history/suspend/resume/trigger/logs; `resume --catch-up none` patches the
status subresource (status.lastScheduleTime, as the controller does when it starts a run); `explain` lists the CronJob's and its
Jobs' Events (list only: it never gets one by name, nor watches)."""

REMOVE_RULES: tuple[Rule, ...] = (("batch", "cronjobs", ("delete",)),)
"""Only `CronJobController.remove_job(force=True)` deletes a CronJob; grant this separately."""

VIEWER_RULES: tuple[Rule, ...] = (
    ("batch", "cronjobs", ("get", "list")),
    ("batch", "jobs", ("get", "list")),
    ("", "pods", ("get", "list")),
    ("", "pods/log", ("get",)),
    ("", "events", ("list",)),
)
"""The chart's viewer Role: list, describe, history, logs, explain, next, check."""

OPERATOR_RULES: tuple[Rule, ...] = (
    ("batch", "cronjobs", ("patch",)),
    ("batch", "cronjobs/status", ("patch",)),
    ("batch", "jobs", ("create",)),
)
"""The chart's operator Role, bound together with the viewer Role: suspend, resume (and its
--catch-up), trigger."""

EXPIRY_RULES: tuple[Rule, ...] = (("batch", "cronjobs", ("get", "list", "patch")),)
"""The chart's expiry CronJob (`controller.expiry`), which runs `cronctl resume --expired --yes`:
list the release's CronJobs, patch the expired ones, and get one again when its patch meets a 409
Conflict. Its permission check (a SelfSubjectAccessReview) and its identity (a SelfSubjectReview)
are cluster-scoped creates that every authenticated user may make (the built-in
system:basic-user ClusterRole), and that a namespaced Role could not grant anyway; no
--catch-up, so neither cronjobs/status nor jobs."""

KEEPER_RULES: tuple[Rule, ...] = (
    ("batch", "cronjobs", ("get", "list", "watch", "patch")),
    ("batch", "jobs", ("get", "list", "watch", "create", "delete")),
    ("", "pods", ("get", "list")),
    ("", "pods/log", ("get",)),
    ("", "configmaps", ("get", "list", "watch", "create", "patch")),
    ("coordination.k8s.io", "leases", ("create", "get", "patch")),
)
"""`cronctl keeper` (jobs/cronjobs/keeper): read and watch the release's CronJobs and Jobs (its
informers) and read their pods (a finished run's exit code, summary and a failed run's log
tail); patch CronJobs (suspend, resume, a request handled); create requested runs and delete a
run past maxDuration; its ledgers (ConfigMaps: watched, and read whole before a run is added)
and its Lease (get and patch only that one, by name). Without `watch` (a chart older than the
image) it lists every pass."""
