"""What `import-apscheduler` found: one `ImportedJob` per registration, and the chart values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cronjobs.exitcodes import ExitCode


@dataclass(frozen=True)
class ImportedJob:
    key: str
    """The `jobs:` key (kebab-case, from the job id or the function name)."""
    where: str
    """`file:line` of the registration."""
    reference: str | None
    """The function, as `module:function` (None when it cannot be resolved)."""
    values: dict[str, Any]
    """The job's chart values (empty when it cannot be mapped)."""
    problems: tuple[str, ...] = ()
    """Why the job cannot be mapped; a job with problems is left out of the values."""
    notes: tuple[str, ...] = ()
    """What the mapping changed or could not carry over, for a job that is mapped."""

    @property
    def mapped(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ImportResult:
    jobs: tuple[ImportedJob, ...]
    notes: tuple[str, ...] = field(default=())
    """Notes about the whole source (not one job)."""

    def values(self, image: dict[str, str] | None = None) -> dict[str, Any]:
        """The chart values for the mapped jobs: `{"jobs": {key: {...}}}`, each with `image`
        (the app's, which holds the functions) when one is given."""
        return {
            "jobs": {
                job.key: {**job.values, **({"image": dict(image)} if image else {})}
                for job in self.jobs
                if job.mapped
            }
        }

    def values_yaml(self, image: dict[str, str] | None = None) -> str:
        import yaml

        header = "# cronjobs import-apscheduler: chart values for the jobs found in the source\n"
        return header + yaml.safe_dump(self.values(image), sort_keys=False, width=100)

    @property
    def problems(self) -> list[str]:
        """One line per job that cannot be mapped and why, then the notes: for stderr."""
        lines = [f"{j.where}: {j.key}: not mapped: {p}" for j in self.jobs for p in j.problems]
        lines += [f"{j.where}: {j.key}: note: {n}" for j in self.jobs for n in j.notes]
        return lines + [f"note: {n}" for n in self.notes]

    @property
    def exit_code(self) -> int:
        """1 when any job could not be mapped (the others are still in the values), else 0."""
        return ExitCode.FAILED if any(not j.mapped for j in self.jobs) else ExitCode.OK
