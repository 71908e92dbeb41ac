"""Bad input gets a clear error, a documented exit code, and touches nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronjobs.errors import ConfigError
from cronjobs.settings import Settings
from tests.jobs.helpers import invoke


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL has an unsupported scheme 'mysql'"),
        (
            {"DATABASE_URL": "postgresql://u:pw@host:notaport/db"},
            "DATABASE_URL cannot be read one way only: the port",
        ),
        ({"DATABASE_URL": "postgresql://u:pw@/db"}, "DATABASE_URL has no host"),
        ({"DATABASE_URL": "postgresql://u:pw@host:5432"}, "DATABASE_URL names no database"),
        ({"DATABASE_URL": "sqlite://relative.db"}, "needs three slashes and a path"),
        (
            {"DATABASE_URL": "sqlite:////tmp/x.db", "CRONJOBS_TIMEOUT": "soon"},
            "Invalid value for '--timeout'",
        ),
    ],
)
def test_bad_database_settings_exit_2_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "pw@" not in result.stderr


def test_password_never_shown_in_a_malformed_url_message() -> None:
    result = invoke("cleanup-old-sessions", env={"DATABASE_URL": "oracle://admin:Tr0ub4dor@db/x"})
    assert result.exit_code == 2
    assert "oracle://admin:***@db/x" in result.stderr
    assert "Tr0ub4dor" not in result.stderr


def test_database_down_exit_1_says_what_to_do_and_hides_the_password() -> None:
    result = invoke(
        "cleanup-old-sessions",
        env={
            "DATABASE_URL": "postgresql://app:Sup3rSecret@127.0.0.1:1/app",
            "CRONJOBS_TIMEOUT": "1",
        },
    )
    assert result.exit_code == 1
    assert (
        "Error: cannot use the database at postgresql+psycopg://app:***@127.0.0.1:1/app"
        in result.stderr
    )
    assert "Check DATABASE_URL and that the server is up" in result.stderr
    assert "Sup3rSecret" not in result.stderr + result.stdout


def test_wrong_flag_is_a_usage_error() -> None:
    result = invoke("cleanup-old-sessions", "--batch-sise", "10")
    assert result.exit_code == 2
    assert "No such option '--batch-sise'" in result.stderr and "'--batch-size'" in result.stderr
    zero = invoke("cleanup-old-sessions", "--batch-size", "0")
    assert zero.exit_code == 2 and "0 is not in the range 1<=x<=100000" in zero.stderr


def test_unknown_job_is_a_usage_error() -> None:
    result = invoke("cleanup-everything")
    assert result.exit_code == 2 and "No such command 'cleanup-everything'" in result.stderr


def test_settings_from_env_validates_and_normalises() -> None:
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u:p@db:5432/app",
            "REDIS_URL": "",
            "CRONJOBS_CACHE_PREFIXES": "cache:, pages: ",
            "QDRANT_API_KEY": "k3y",
        }
    )
    assert s.database_url == "postgresql+psycopg://u:p@db:5432/app"
    assert s.redis_url is None and s.cache_prefixes == ("cache:", "pages:")
    assert s.secrets() == {"p", "k3y"}
    assert "k3y" not in repr(s)
    with pytest.raises(ConfigError, match="REDIS_URL must start with redis://"):
        Settings.from_env({"REDIS_URL": "http://cache:6379"})
    with pytest.raises(ConfigError, match="both QDRANT_URL and QDRANT_PATH are set"):
        Settings.from_env({"QDRANT_URL": "http://q:6333", "QDRANT_PATH": "/data"})
    with pytest.raises(ConfigError, match="CRONJOBS_TIMEOUT must be a number"):
        Settings.from_env({"CRONJOBS_TIMEOUT": "fast"})


def test_init_db_creates_missing_tables_once(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    dry = invoke("init-db", "--dry-run", env={"DATABASE_URL": url})
    assert dry.exit_code == 0 and dry.stdout.startswith(
        "would create: analytics_events, chat_sessions"
    )
    first = invoke("init-db", env={"DATABASE_URL": url})
    assert first.exit_code == 0 and "daily_analytics" in first.stdout
    again = invoke("init-db", env={"DATABASE_URL": url})
    assert again.exit_code == 0 and again.stdout.strip() == "all tables exist"
    missing = invoke("init-db")
    assert missing.exit_code == 2 and "DATABASE_URL is not set" in missing.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--timeout", "inf"], {}, "Invalid value for '--timeout'"),
        (["--lock-timeout", "inf"], {}, "Invalid value for '--lock-timeout'"),
        (["--timeout", "nan"], {}, "'nan' is not a number of seconds"),
        ([], {"CRONJOBS_LOCK_TIMEOUT": "1e309"}, "Invalid value for '--lock-timeout'"),
        (["--older-than-days", "99999999"], {}, "99999999 is not in the range 1<=x<=36500"),
    ],
)
def test_numbers_out_of_range_are_exit_2_not_a_crash(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    db.touch()
    result = invoke(
        "cleanup-old-sessions", "--dry-run", *args, env={"DATABASE_URL": f"sqlite:///{db}", **env}
    )
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_settings_refuse_infinite_seconds_from_env() -> None:
    with pytest.raises(ConfigError, match="CRONJOBS_LOCK_TIMEOUT must be a number of seconds"):
        Settings.from_env({"CRONJOBS_LOCK_TIMEOUT": "1e309"})
    with pytest.raises(ConfigError, match="CRONJOBS_TIMEOUT must be a number of seconds"):
        Settings(timeout=float("nan"))


@pytest.mark.parametrize("flag", ["--date", "--since", "--until"])
def test_a_future_day_is_refused(flag: str, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    db.touch()
    args = [flag, "9999-12-31"] + (["--since", "2026-01-01"] if flag == "--until" else [])
    result = invoke("aggregate-daily-analytics", *args, env={"DATABASE_URL": f"sqlite:///{db}"})
    assert result.exit_code == 2, result.stderr
    assert f"{flag} 9999-12-31 is in the future" in result.stderr


JOBS_ON_THE_DATABASE = [
    ["cleanup-old-sessions"],
    ["cleanup-old-sessions", "--dry-run"],
    ["cleanup-old-analytics", "--dry-run"],
    ["aggregate-daily-analytics", "--dry-run"],
    ["health-check"],
]


@pytest.mark.parametrize("args", JOBS_ON_THE_DATABASE)
@pytest.mark.parametrize("where", ["relative.db", "missing-folder/app.db"])
def test_a_missing_sqlite_file_is_exit_2_and_nothing_is_created(
    args: list[str], where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, env={"DATABASE_URL": f"sqlite:///{where}"})
    assert result.exit_code == 2, result.stderr
    assert "DATABASE_URL names the SQLite file" in result.stderr
    assert "cronjobs init-db" in result.stderr
    if "/" in where:
        assert "nor does its folder" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", JOBS_ON_THE_DATABASE[:4])
def test_a_database_without_the_tables_says_so(
    args: list[str], db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).touch()
    result = invoke(*args, env={"DATABASE_URL": db_url})
    assert result.exit_code == 2, result.stderr
    assert "has no table" in result.stderr and "cronjobs init-db" in result.stderr
    assert "server is up" not in result.stderr
    # init-db makes the built-in tables only: an app's own table is the app's migrations' job.
    assert "the app's own tables" in result.stderr and "migrations" in result.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--cache-prefix", ""], {}),
        (["--cache-prefix", "cache:,"], {}),
        ([], {"CRONJOBS_CACHE_PREFIXES": ","}),
    ],
)
def test_an_empty_cache_prefix_is_an_error(args: list[str], env: dict[str, str]) -> None:
    result = invoke("cleanup-redis-cache", *args, env={"REDIS_URL": "redis://127.0.0.1:1/0", **env})
    assert result.exit_code == 2, result.stderr
    assert "holds an empty prefix" in result.stderr


def test_a_qdrant_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    result = invoke("health-check", env={"QDRANT_PATH": str(tmp_path / "nope")})
    assert result.exit_code == 2, result.stderr
    assert "QDRANT_PATH" in result.stderr and "is not a folder" in result.stderr
    assert not (tmp_path / "nope").exists()


def test_init_db_in_a_missing_folder_says_so(tmp_path: Path) -> None:
    result = invoke("init-db", env={"DATABASE_URL": f"sqlite:///{tmp_path}/no/such/app.db"})
    assert result.exit_code == 2, result.stderr
    assert "does its folder exist" in result.stderr


def test_several_hosts_in_the_url_are_exit_2_with_the_query_form() -> None:
    result = invoke(
        "cleanup-old-sessions", env={"DATABASE_URL": "postgresql://u:Pw0rd@h1:5432,h2:5432/db"}
    )
    assert result.exit_code == 2, result.stderr
    assert "names several hosts" in result.stderr and "?host=h1:5432&host=h2:5432" in result.stderr
    assert "Pw0rd" not in result.stderr


def test_partitions_ahead_are_bounded(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    db.touch()
    result = invoke(
        "aggregate-daily-analytics",
        "--ensure-partitions",
        "99999999",
        env={"DATABASE_URL": f"sqlite:///{db}"},
    )
    assert result.exit_code == 2, result.stderr
    assert "99999999 is not in the range 0<=x<=36" in result.stderr
