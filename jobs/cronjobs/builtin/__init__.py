"""The built-in jobs: the app's five maintenance jobs, registered like any app's own.

`catalogue` registers them; one module per job (`sessions`, `analytics`, `analytics_cleanup`,
`cache`, `health`) with what they share (`purge`, the batched delete; `retention`, `models`,
`rules`, `schema_check`, `rule_tables`: which rows are old, on the built-in tables or the app's
own schema); `schema` and `demo` for development stacks.
"""
