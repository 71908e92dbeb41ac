"""A throwaway PostgreSQL 15 server for the benchmarks, started in a temp dir on a free port.

PostgreSQL refuses to run as root: initdb and pg_ctl run in a user namespace where the
process is not root (../tests/pg_ctl). Every variant of a benchmark
runs on its own clone of a seeded template database (`CREATE DATABASE ... TEMPLATE ...
STRATEGY FILE_COPY`), so each starts from the same bytes on disk.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_CTL = Path(__file__).resolve().parent.parent / "tests" / "pg_ctl"

# The settings every variant runs under (documented in bench/README.md). Durability is left
# at the defaults (fsync, synchronous_commit, full_page_writes on): a commit per batch costs
# what it costs in production.
SETTINGS = {
    "shared_buffers": "256MB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "autovacuum": "off",  # no background vacuum racing a measured run; same for every variant
    "jit": "off",
    "listen_addresses": "127.0.0.1",
    "max_connections": "20",
}


def _unprivileged(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["unshare", "--user", "--map-user=1", "--map-group=1", *cmd]
    return cmd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cronjobs-bench-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.started = False

    def start(self) -> PgServer:
        subprocess.run(
            _unprivileged(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        opts = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        opts += f" -p {self.port} -k {self.dir}"
        env = {**os.environ, "PG_BIN": str(PG_BIN)}
        subprocess.run(
            [
                str(PG_CTL),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.dir / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                [str(PG_CTL), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                env={**os.environ, "PG_BIN": str(PG_BIN)},
            )
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def url(self, db: str) -> str:
        """The SQLAlchemy URL the job gets as DATABASE_URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres", autocommit: bool = True) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=db,
            autocommit=autocommit,
            options="-c TimeZone=UTC",
        )

    def version(self) -> str:
        with self.connect() as c:
            return str(c.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]

    def create(self, name: str, template: str | None = None) -> None:
        with self.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            if template:
                c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
            else:
                c.execute(f'CREATE DATABASE "{name}"')
            # Start every measured run from a clean slate: no dirty buffers left to flush.
            c.execute("CHECKPOINT")

    def drop(self, name: str) -> None:
        with self.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def exists(self, name: str) -> bool:
        with self.connect() as c:
            return (
                c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                is not None
            )
