"""The keeper's metrics in Prometheus' text format (what `/metrics` serves): runs by job and
result, the last run's duration, the last success, policy actions, flags, whether this
replica leads and when it last completed a pass. The chart's PrometheusRule can use them
instead of kube-state-metrics, and alerts on them when the keeper is down or stalled."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from cronjobs.keeper.ledger import Entry
from cronjobs.keeper.loop import Pass, State

NAMESPACE = "cronjobs_keeper"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Metrics:
    """What the keeper has seen since it started, updated after each pass (thread-safe)."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_duration: dict[str, float] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    actions: Counter[str] = field(default_factory=Counter)
    flags: dict[str, list[str]] = field(default_factory=dict)
    errors: int = 0
    states: dict[str, State] = field(default_factory=dict)
    passes: int = 0
    leader: bool = False
    last_pass: float = 0.0
    last_completed_pass: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, done: Pass, now: datetime) -> None:
        with self.lock:
            for entry in done.recorded:
                cronjob = _cronjob_of(entry)
                self.runs[(cronjob, entry.result)] += 1
                if entry.duration_seconds is not None:
                    self.last_duration[cronjob] = entry.duration_seconds
                if entry.result == "Succeeded" and entry.finished:
                    finished = datetime.fromisoformat(entry.finished.replace("Z", "+00:00"))
                    self.last_success[cronjob] = max(
                        self.last_success.get(cronjob, 0.0), finished.timestamp()
                    )
            self.states = dict(done.states)
            for cronjob, state in done.states.items():
                if state.last_success is not None:
                    self.last_success[cronjob] = max(
                        self.last_success.get(cronjob, 0.0), state.last_success
                    )
            self.actions.update(done.actions)
            self.flags = dict(done.flags)
            self.errors += len(done.errors)
            self.passes += 1
            self.last_pass = self.last_completed_pass = now.timestamp()

    def render(self) -> str:
        with self.lock:
            out: list[str] = []

            def family(name: str, kind: str, text: str, rows: list[tuple[str, float]]) -> None:
                out.append(f"# HELP {NAMESPACE}_{name} {text}")
                out.append(f"# TYPE {NAMESPACE}_{name} {kind}")
                out.extend(f"{NAMESPACE}_{name}{labels} {_number(value)}" for labels, value in rows)

            family(
                "runs_total", "counter", "Runs the keeper recorded, by CronJob and result.",
                [(f'{{cronjob="{_label(c)}",result="{_label(r)}"}}', n) for (c, r), n in sorted(self.runs.items())],
            )  # fmt: skip
            family(
                "last_run_duration_seconds", "gauge", "Duration of the newest recorded run.",
                [(f'{{cronjob="{_label(c)}"}}', s) for c, s in sorted(self.last_duration.items())],
            )  # fmt: skip
            family(
                "last_success_timestamp_seconds", "gauge", "When the newest successful run ended.",
                [(f'{{cronjob="{_label(c)}"}}', s) for c, s in sorted(self.last_success.items())],
            )  # fmt: skip
            states = sorted(self.states.items())
            family(
                "last_failure_timestamp_seconds", "gauge", "When the newest failed run ended (from the ledger).",
                [(f'{{cronjob="{_label(c)}"}}', s.last_failure) for c, s in states if s.last_failure is not None],
            )  # fmt: skip
            family(
                "last_run_failed", "gauge", "1 when the newest recorded run failed or was stopped.",
                [(f'{{cronjob="{_label(c)}"}}', int(s.last_failed)) for c, s in states],
            )  # fmt: skip
            family(
                "suspended", "gauge", "1 while the CronJob is suspended.",
                [(f'{{cronjob="{_label(c)}"}}', int(s.suspended)) for c, s in states],
            )  # fmt: skip
            family(
                "created_timestamp_seconds", "gauge", "When the CronJob was created.",
                [(f'{{cronjob="{_label(c)}"}}', s.created) for c, s in states],
            )  # fmt: skip
            family(
                "policy_actions_total", "counter", "Actions taken: suspend, restore, stop, trigger, expire, flag.",
                [(f'{{action="{_label(a)}"}}', n) for a, n in sorted(self.actions.items())],
            )  # fmt: skip
            family(
                "flags", "gauge", "Flags raised on the last pass (a slow run, runs that did nothing).",
                [(f'{{cronjob="{_label(c)}",flag="{_label(f.split(":")[0])}"}}', 1) for c, fs in sorted(self.flags.items()) for f in fs],
            )  # fmt: skip
            family(
                "pass_errors_total",
                "counter",
                "CronJobs a pass could not keep.",
                [("", self.errors)],
            )
            family("passes_total", "counter", "Passes over the CronJobs.", [("", self.passes)])
            family(
                "last_pass_timestamp_seconds",
                "gauge",
                "When the loop last went round: a pass, or a turn as follower or while the"
                " informers sync (what /healthz reads).",
                [("", self.last_pass)],
            )
            family(
                "last_completed_pass_timestamp_seconds",
                "gauge",
                "When this replica, as leader, last completed a pass over the CronJobs (0: never).",
                [("", self.last_completed_pass)],
            )
            family(
                "leader", "gauge", "1 when this replica holds the Lease.", [("", int(self.leader))]
            )
            return "\n".join(out) + "\n"


def _cronjob_of(entry: Entry) -> str:
    """The CronJob a run belongs to: its ledger's owner (the Job's name minus its suffix)."""
    return entry.cronjob or entry.job.rsplit("-", 1)[0]


def _number(value: float) -> str:
    """A sample value, exact: a whole number as one (a count, a Unix time to the second), else
    the shortest text that reads back as the same float (`:g` keeps 6 digits: a timestamp
    would move by hours)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
