"""Development tools that are not jobs: `init-db` creates the built-in jobs' tables where they
are missing (`schema`), `demo` seeds sample data and runs every job on it (`demo`); their
commands are in `commands`."""
