"""The retention library the cleanup jobs are built on: which rows are old, and deleting them.

`rules` is the one model of a retention rule, with the one set of defaults (the built-in
tables, `models`) and the rules file that describes the app's own schema; `tables` binds a rule
to SQLAlchemy tables and holds the one predicate "this row is old"; `rule_names` (and `names`)
name a rule's tables for SQL text, without SQLAlchemy; `rule_tables` binds a rules file's rules
to the live schema; `schema_check` (with `reflect` and `cascades`) checks rules against the
database before anything runs; `purge` deletes old rows and their children in short batches,
sized by `batch_time`, as SQL text (`purge_sql`) on the run's own connection. Nothing here is a
job: the jobs are in cronjobs.builtin.
"""

SESSION_DAYS = 90
"""How long a chat or peptide info session is kept after its last activity, by default."""
ANALYTICS_DAYS = 365
"""How long raw analytics events are kept, by default (their daily figures stay)."""
# The one place for the built-in tables' ages: rules.DEFAULTS reads them, and so do the jobs'
# descriptions and --help (here, not in rules.py, so that `cronjobs --help` loads no more).
