"""The built-in jobs: the app's five maintenance jobs, each an ordinary `@job` in a module of
its own (listed in `catalogue`, which importing this package imports: the jobs register in
that order). `sessions`, `cache` and `health` hold their job and what it does;
`aggregate_daily_analytics` and `cleanup_old_analytics` declare theirs, whose work is in
`analytics`, `analytics_ranges`, `analytics_cleanup` and `partitions`.
"""

from cronjobs.builtin import catalogue as catalogue
