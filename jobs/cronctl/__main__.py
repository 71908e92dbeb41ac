"""`python -m jobs.cronctl`: the same as the `cronctl` console script."""

from jobs.cronctl.cli import main

main()
