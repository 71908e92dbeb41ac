"""The keeper: the one in-cluster component that remembers every run of this release's CronJobs
(a ledger that outlives Job and pod garbage collection) and enforces per-job policies
(pause after failures, blackout windows, a maximum duration, flags for slow runs and runs that
did nothing). ledger.py and policy.py are pure: they decide; the loop applies."""
