"""`CronJobController`: the Python API behind `cronctl`, importable by the FastAPI app too.

It finds the chart's CronJobs by label selector and works on plain dicts and dataclasses; all API
calls go through `cronjobs.cronctl.api.KubeApi`. Listing costs three lists whatever the number
of CronJobs (CronJobs, then Jobs with the same selector, joined in memory by ownerReferences uid,
then the keeper's ledgers), each paged by 500 items. The work is done by plain modules that take
a frozen `Scope` (cronjobs.cronctl.scope), never this class: runs, diagnose, suspension,
trigger, follow, backfill, claim.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cronjobs.cronctl import diagnose, follow, model, runs, suspension, trigger, window
from cronjobs.cronctl.errors import ConfigError, CronctlError, HelmManaged, NoLogs
from cronjobs.cronctl.model import DEFAULT_SELECTOR, CronJobInfo, Obj, Run
from cronjobs.cronctl.scope import CRONJOBS, JOBS, PODS, Scope
from cronjobs.cronctl.suspension import Change
from cronjobs.cronctl.trigger import Triggered

if TYPE_CHECKING:
    from cronjobs.cronctl.api import ClientSettings, KubeApi

log = logging.getLogger(__name__)

__all__ = [
    "CRONJOBS",
    "DEFAULT_SELECTOR",
    "JOBS",
    "PODS",
    "CronJobController",
    "Triggered",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class CronJobController:
    """List, describe, suspend, resume and trigger the chart's CronJobs.

    `namespace` defaults to the kubeconfig context's (or the pod's); `all_namespaces` lists
    across all of them; `selector` picks the chart's CronJobs.
    """

    def __init__(
        self,
        api: KubeApi,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        selector: str = DEFAULT_SELECTOR,
        poll_interval: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
        confined: bool = False,
    ) -> None:
        self.api = api
        self.namespace = namespace or api.namespace
        self.all_namespaces = all_namespaces
        self.selector = selector
        self.confined = confined
        """Only the CronJobs the selector matches exist, by name too (the dashboard's mode);
        else a name reaches any CronJob of the namespace, as kubectl does."""
        self.poll_interval = poll_interval
        self.clock = clock

    @classmethod
    def connect(cls, settings: ClientSettings | None = None, **kwargs: Any) -> CronJobController:
        """Load the configuration (explicitly: in-cluster or kubeconfig) and build a controller."""
        from cronjobs.cronctl.api import ClientSettings, KubeApi

        return cls(KubeApi(settings or ClientSettings.from_env()), **kwargs)

    def close(self) -> None:
        self.api.close()

    def confine(self) -> CronJobController:
        """This controller (sharing its connection), confined to its selector."""
        if self.confined:
            return self
        other = copy.copy(self)
        other.confined = True
        return other

    @property
    def scope(self) -> Scope:
        """What the helpers (claim, backfill, diagnose, follow, suspension, trigger) need of
        this controller, as a frozen value: they take it instead of the controller."""
        return Scope(
            self.api,
            self.namespace,
            self.all_namespaces,
            self.selector,
            self.confined,
            self.poll_interval,
            self.clock,
        )

    # -- reading ---------------------------------------------------------------------------------

    def list_cronjobs(self, selector: str | None = None) -> list[CronJobInfo]:
        """Every CronJob matching the selector, with its runs (its Jobs, and with the keeper
        on the runs its ledger remembers: cronjobs.cronctl.runs).

        Three lists whatever the number of CronJobs (CronJobs, Jobs with the same selector: the
        chart copies its labels onto jobTemplate.metadata.labels, so its Jobs carry them; the
        ledgers), a request per 500 items each. A reader that may only get the ledgers by name
        (the chart's viewer Role) gets those of the CronJobs the keeper looks after one by one.
        """
        return [info for _, info in runs.listing(self.scope, selector or self.selector)]

    def describe(self, name: str, results: bool = True, ledger: bool = True) -> CronJobInfo:
        """One CronJob with all its runs (newest first): its Jobs, each with its exit code and
        summary while its pod exists, and the runs the keeper's ledger remembers after their
        Jobs are gone (Run.source "ledger"; CronJobInfo.ledger says whether it could be read).
        Four API calls (one fewer without `results`, one fewer without `ledger`)."""
        scope = self.scope
        cronjob = scope.get(name)
        info = runs.describe(scope, cronjob, ledger)
        return diagnose.with_pods(scope, cronjob, info) if results else info

    def history(self, name: str) -> list[Run]:
        """Every run, newest first: the Jobs that still exist, and with the keeper on the runs
        its ledger remembers after their Jobs were garbage-collected (docs/keeper.md). Without
        a ledger (no keeper, or no right to read it) the Jobs alone."""
        return list(self.describe(name).runs)

    def explain(
        self,
        name: str,
        since: datetime | None = None,
        *,
        max_ticks: int | None = window.MAX_TICKS,
        max_window: timedelta | None = window.MAX_WINDOW,
    ) -> diagnose.Explanation:
        """Every tick since `since` (default: the last 7 days, or since the creation), matched
        to its Job, each missed one with the controller's reason; the last failure; Events;
        what to do. See cronjobs.cronctl.ticks for the rules.

        Bounded (cronjobs.cronctl.window): a `since` older than `max_window`, or a window of more
        than `max_ticks` ticks, is a ConfigError; the default window is shortened to the
        newest `max_ticks` ticks. None lifts a bound."""
        window.check_start(since, self.clock(), max_window)
        if max_ticks is None:
            return diagnose.explain(self.scope, name, since)
        limit = max_ticks

        def fit(cronjob: Obj, start: datetime, now: datetime) -> datetime:
            return window.fit(cronjob, start, now, limit, explicit=since is not None)

        return diagnose.explain(self.scope, name, since, fit)

    def upcoming(
        self, name: str, count: int = 5, after: datetime | None = None
    ) -> diagnose.Upcoming:
        """The next `count` runs (after `after`, default now) in the CronJob's time zone, with
        the times a DST change skips, repeats or shifts marked."""
        return diagnose.upcoming(self.scope, name, count, after)

    def check(
        self,
        names: tuple[str, ...] = (),
        *,
        selector: str | None = None,
        all: bool = False,
        max_age: timedelta | None = None,
        max_suspended: timedelta | None = None,
        max_failures: int = 0,
    ) -> list[diagnose.Health]:
        """Is each CronJob healthy: succeeded within its window (default: twice its longest
        interval), not suspended past `max_suspended` (default: the window), and no more
        than `max_failures` failed runs in a row, counting the runs the keeper's ledger
        remembers. Three lists (or per NAME a get, a list and the ledger's get)."""
        return diagnose.check(
            self.scope,
            names,
            selector=selector,
            all_=all,
            max_age=max_age,
            max_suspended=max_suspended,
            max_failures=max_failures,
        )

    # -- suspend / resume -----------------------------------------------------------------------

    def _targets(self, names: tuple[str, ...], selector: str | None, all_: bool) -> list[Obj]:
        if names and (selector is not None or all_):
            raise ConfigError("name the CronJobs, or select them with -l/--all, not both")
        if names:
            return [self.scope.get(name) for name in dict.fromkeys(names)]  # all exist, or none
        if selector is None and not all_:
            raise ConfigError("name the CronJobs, or pass -l SELECTOR, or --all")
        selector = selector or self.selector
        targets = self.scope.objects(CRONJOBS, self.scope.where, selector)
        if not targets:
            where = f'namespace "{self.namespace}"' if self.scope.where else "any namespace"
            raise CronctlError(f'no CronJob matches "{selector}" in {where}: check -l and -n/-A')
        return sorted(targets, key=lambda cj: (cj["metadata"]["namespace"], cj["metadata"]["name"]))

    def suspend(
        self,
        names: tuple[str, ...] = (),
        *,
        selector: str | None = None,
        all: bool = False,
        reason: str | None = None,
        who: str | None = None,
        until: datetime | timedelta | None = None,
        dry_run: bool = False,
    ) -> list[Change]:
        """Set spec.suspend=true (never toggle); record who, when, why and until when, and the
        suspend run's id on the CronJobs it changed. See cronjobs.cronctl.suspension."""
        targets = self._targets(names, selector, all)
        return suspension.suspend(
            self.scope, targets, reason=reason, who=who, until=until, dry_run=dry_run
        )

    def resume(
        self,
        names: tuple[str, ...] = (),
        *,
        selector: str | None = None,
        all: bool = False,
        expired: bool = False,
        maintenance: str | None = None,
        catch_up: str | None = None,
        who: str | None = None,
        dry_run: bool = False,
    ) -> list[Change]:
        """Set spec.suspend=false (never toggle), clear the suspend record (the history stays).

        `expired`: only those whose suspension has expired; `maintenance`: only those a suspend
        run (its id or reason) changed; `catch_up` none|once: see cronjobs.cronctl.catchup. Without
        names or -l, `expired` and `maintenance` look at every CronJob of the selector.
        """
        if (expired or maintenance is not None) and not names and selector is None:
            all = True
        targets = self._targets(names, selector, all)
        return suspension.resume(
            self.scope,
            targets,
            who=who,
            expired=expired,
            maintenance=maintenance,
            catch_up=catch_up,
            dry_run=dry_run,
        )

    def suspended_states(self, targets: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        """Whether each (namespace, name) is suspended now, read again (one get each; one that
        cannot be read is left out): what an interrupted suspend or resume got done."""
        states = {}
        for namespace, name in targets:
            try:
                cronjob = self.scope.fetch(namespace, name)
            except CronctlError as e:
                log.warning("Warning: cannot read CronJob %s/%s again: %s", namespace, name, e)
                continue
            states[namespace, name] = cronjob.get("spec", {}).get("suspend") is True
        return states

    # -- trigger / wait / logs ------------------------------------------------------------------

    def trigger(
        self,
        name: str,
        *,
        force: bool = False,
        dry_run: bool = False,
        job_name: str | None = None,
        who: str | None = None,
        args: tuple[str, ...] = (),
        namespace: str | None = None,
        scheduled_at: datetime | None = None,
    ) -> Triggered:
        """Create a Job from the CronJob as `kubectl create job --from=cronjob/NAME` does, its
        pod annotated with the run's tick: `scheduled_at`, or now (a manual run's tick is when it
        was asked for, however late its pod starts).

        `args` are appended to the container's args, each only if the chart allowlisted it for
        this job (the CronJob's cronctl.cronjobs.dev/allowed-args annotation): anything else is
        a ConfigError (exit 2) naming the allowlist, and nothing is created.

        Refuses (Refused, exit 3) when the CronJob's concurrencyPolicy is Forbid and one of its
        Jobs is still running (the controller's status.active ignores manual Jobs, so this looks
        at the owned Jobs themselves) or another trigger is creating one, unless `force`. Under
        any number of concurrent triggers at most one of them starts a run: see
        cronjobs.cronctl.claim.
        """
        return trigger.trigger(
            self.scope,
            name,
            force=force,
            dry_run=dry_run,
            job_name=job_name,
            who=who,
            args=args,
            namespace=namespace,
            scheduled_at=scheduled_at,
        )

    def await_request(self, triggered: Triggered, cronjob: str, timeout: float) -> None:
        """Wait until the keeper has acted on the request: return once it started the run;
        Refused (exit 3) or CronctlError with the keeper's reason; WaitTimeout (exit 5) when it
        has not acted in `timeout` s (is the keeper running?)."""
        trigger.await_request(self.scope, triggered, cronjob, timeout)

    def wait(
        self,
        job_name: str,
        namespace: str | None = None,
        *,
        timeout: float = 600.0,
        on_log: Callable[[str, str], None] | None = None,
        on_progress: Callable[[Run], None] | None = None,
    ) -> Run:
        """Poll the Job until it succeeds or fails; stream its pods' logs to `on_log(pod, line)`.

        Raises WaitTimeout (exit 5) after `timeout` seconds, also while a pod's log is streaming
        (chatty or silent); the Job keeps running. See cronjobs.cronctl.follow.
        """
        return follow.wait(
            self.scope,
            job_name,
            namespace or self.namespace,
            timeout=timeout,
            on_log=on_log,
            on_progress=on_progress,
        )

    def job_for_logs(self, name: str, job: str | None = None) -> str:
        """The Job whose logs `cronctl logs NAME` shows: --job, or the CronJob's newest run."""
        return self.run_for_logs(name, job, ledger=False).name

    def run_for_logs(self, name: str, job: str | None = None, *, ledger: bool = True) -> Run:
        """The run `cronctl logs NAME` shows: --job, or the CronJob's newest run; with `ledger`,
        also one only the keeper's ledger remembers (its Job gone: `Run.log_tail` is what is
        left of a failed run's log)."""
        info = self.describe(name, results=False, ledger=ledger)
        if job is not None:
            found = next((run for run in info.runs if run.name == job), None)
            if found is None:
                raise NoLogs(
                    f'Job "{job}" is not a run of CronJob {name} in namespace '
                    f'"{info.namespace}": see `cronctl history {name}`'
                )
            return found
        if not info.runs:
            raise NoLogs(
                f"CronJob {name} has no runs (or they were cleaned up): trigger one with "
                f"`cronctl trigger {name}`"
            )
        return info.runs[0]

    def logs(self, name: str, job: str | None = None) -> Iterator[tuple[str, str]]:
        """(pod, line) for every pod of the chosen run (see `job_for_logs`), oldest pod first."""
        return self.job_logs(self.job_for_logs(name, job))

    def job_logs(self, job_name: str) -> Iterator[tuple[str, str]]:
        """(pod, line) for every pod of a Job already resolved by `job_for_logs`."""
        namespace = self.scope.ns_for_name()
        pods = self.api.list(PODS, namespace, f"job-name={job_name}")
        if not pods:
            raise NoLogs(
                f"Job {job_name} has no pods left (deleted with the Job or by its TTL): "
                "nothing to show"
            )
        for pod in sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp"))):
            name, lines = pod["metadata"]["name"], 0
            for line in self.api.pod_log(namespace, name, follow.container(pod)):
                lines += 1
                yield name, line
            if not lines and not follow.on_node(pod):
                log.info("Pod %s has not started yet (no node yet): no log to show yet.", name)

    # -- the APScheduler app's scheduler_service, mapped ---------------------------------------------------

    def get_jobs(self) -> list[dict[str, Any]]:
        """Seed: scheduler_service.get_jobs(): the CronJobs as dicts (`cronctl list -o json`)."""
        return [info.to_dict() for info in self.list_cronjobs()]

    def pause_job(self, name: str, reason: str | None = None, who: str | None = None) -> Change:
        """Seed: scheduler_service.pause_job(id): suspend one CronJob."""
        return self.suspend((name,), reason=reason, who=who)[0]

    def resume_job(self, name: str) -> Change:
        """Seed: scheduler_service.resume_job(id): resume one CronJob."""
        return self.resume((name,))[0]

    def trigger_job(self, name: str, force: bool = False, who: str | None = None) -> Triggered:
        """Seed: the manual-trigger endpoint: start a run now."""
        return self.trigger(name, force=force, who=who)

    def remove_job(self, name: str, force: bool = False) -> None:
        """Seed: scheduler_service.remove_job(id): delete the CronJob.

        Refuses (HelmManaged) for a CronJob a Helm release owns unless `force`: the next
        `helm upgrade` would bring it back. Disable the job in the chart's values instead.
        Needs `permissions.REMOVE_RULES` (delete on batch/cronjobs).
        """
        cronjob = self.scope.get(name)
        if model.is_helm_managed(cronjob) and not force:
            meta = cronjob["metadata"]
            release = (meta.get("annotations") or {}).get(model.HELM_RELEASE) or (
                meta.get("labels") or {}
            ).get("app.kubernetes.io/instance", "?")
            key = (meta.get("labels") or {}).get("app.kubernetes.io/component", name)
            raise HelmManaged(
                f'CronJob {name} is managed by Helm release "{release}": disable the job in '
                f"the chart's values (jobs.{key}) and run `helm upgrade`, or suspend it; "
                "deleting it here would be undone by the next upgrade (force=True deletes anyway)"
            )
        self.api.delete(CRONJOBS, cronjob["metadata"]["namespace"], name)
