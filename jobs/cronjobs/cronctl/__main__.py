"""`python -m cronjobs.cronctl`: the same as the `cronctl` console script."""

from cronjobs.cronctl.cli import main

main()
