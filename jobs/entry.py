"""The `cronjobs` console script (and `python -m jobs`): record SIGTERM and SIGINT first, then
load the CLI. Importing jobs.cli takes 0.3-1.4 s (click, the job catalogue, settings); a TERM
in that time must not be lost (jobs/signals.py). Nothing here may import more than the stdlib
before `install()`."""

from jobs import signals

signals.install()


def main() -> None:
    from jobs.cli import main as cli_main

    cli_main()
