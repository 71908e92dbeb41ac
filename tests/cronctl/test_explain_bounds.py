"""explain's bounds (issue 23, item 9): how far back, and how many ticks, one call judges.

An explicit --since older than 31 days, or a window of more than 10080 ticks, is exit 2 with the
latest start that fits; --no-limit lifts both. The default window (7 days) is shortened to the
newest ticks that fit instead of failing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"


def test_a_since_older_than_31_days_is_exit_2_unless_no_limit(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 2 * * *", created=datetime.now(UTC) - timedelta(days=400))

    old = cluster.run("explain", NAME, "--since", "40d")

    assert old.exit_code == 2, old.stderr
    assert old.stdout == ""
    assert re.fullmatch(
        r"Error: --since \S+Z is 40d0h ago, over the 31d0h explain reads at most: give a later "
        r"time or a shorter duration \(or pass --no-limit to the CLI\)\n",
        old.stderr,
    ), old.stderr
    lifted = cluster.run("explain", NAME, "--since", "40d", "-o", "json", "--no-limit")
    assert lifted.exit_code == 0, lifted.stderr
    assert '"counts"' in lifted.stdout


def test_a_window_of_too_many_ticks_is_exit_2_naming_what_fits(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "@every 5s", created=datetime.now(UTC) - timedelta(days=3))

    many = cluster.run("explain", NAME, "--since", "2d")

    assert many.exit_code == 2, many.stderr
    assert "Traceback" not in many.stderr
    assert (
        "the window holds more than 10080 ticks of schedule '@every 5s', the most explain "
        "reads: start at " in many.stderr
    )
    assert re.search(r"or later \(--since 1[34]h\d\dm\), or pass --no-limit", many.stderr)


def test_the_default_window_is_shortened_to_the_newest_ticks(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "* * * * *", created=datetime.now(UTC) - timedelta(days=2))
    c = cluster.controller()
    try:
        shortened = c.explain(NAME, max_ticks=100)
        full = c.explain(NAME, max_ticks=None)
    finally:
        c.close()

    assert 90 <= len(shortened.verdicts) <= 100
    assert shortened.verdicts[-1].at == full.verdicts[-1].at  # the newest ones
    assert len(full.verdicts) > 2800  # two days of every minute
