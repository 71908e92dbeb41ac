"""The `cronjobs` console script (and `python -m cronjobs`): record SIGTERM and SIGINT first, then
load the CLI. Importing cronjobs.cli takes 0.3-1.4 s (click, the job catalogue, settings); a TERM
in that time must not be lost (jobs/cronjobs/signals.py). Nothing here may import more than the stdlib
before `install()`."""

from cronjobs import signals

signals.install()


def main() -> None:
    from cronjobs.cli import main as cli_main

    cli_main()
