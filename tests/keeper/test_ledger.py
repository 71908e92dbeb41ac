"""The ledger: one entry per Job uid whatever happens twice, bounded in entries and bytes
(a ConfigMap holds 1 MiB), failed runs' log tails scrubbed, unreadable data skipped."""

from __future__ import annotations

import json

from cronjobs.keeper import ledger
from cronjobs.keeper.ledger import Entry
from cronjobs.redact import forget, remember


def entry(i: int, result: str = "Succeeded", **kw: object) -> Entry:
    return Entry(
        uid=f"uid-{i}", job=f"cj-{i}", result=result, trigger="scheduled",
        started=f"2026-12-01T{i // 60:02d}:{i % 60:02d}:00Z", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_recording_a_run_twice_keeps_one_entry() -> None:
    entries = ledger.add([], entry(1, "Failed"))
    entries = ledger.add(entries, entry(2))
    entries = ledger.add(entries, entry(1, "Failed", exit_code=1))
    assert [(e.uid, e.exit_code) for e in entries] == [("uid-1", 1), ("uid-2", None)]
    assert ledger.load(ledger.dump(entries)) == entries


def test_bounded_in_entries_and_bytes_oldest_first() -> None:
    entries: list[Entry] = []
    for i in range(ledger.MAX_ENTRIES + 30):
        entries = ledger.add(entries, entry(i % 1440))
    assert len(entries) == ledger.MAX_ENTRIES
    big = [entry(i, "Failed", log_tail=("x" * 499,) * 20) for i in range(200)]
    kept = ledger.bounded(big)
    assert len(ledger.dump(kept)[ledger.KEY].encode()) <= ledger.MAX_BYTES
    assert kept[-1] == big[-1] and len(kept) < len(big)


def test_a_log_tail_is_short_and_scrubbed() -> None:
    remember(["s3cr3t-pa55"])
    try:
        log = "\n".join(f"line {i}" for i in range(100)) + "\nconnecting as app:s3cr3t-pa55@db"
        tail = ledger.tail(log)
    finally:
        forget()
    assert len(tail) == ledger.LOG_LINES and tail[-2] == "line 99"
    assert "s3cr3t-pa55" not in "".join(tail)
    assert ledger.tail("y" * 5000)[0] == "y" * ledger.MAX_LINE


def test_what_cannot_be_read_is_skipped() -> None:
    assert ledger.load({ledger.KEY: "not json"}) == []
    assert ledger.load({ledger.KEY: json.dumps({"uid": "x"})}) == []
    rows = [{"uid": "a", "job": "j", "result": "Failed", "trigger": "manual", "extra": 1}, 7, {}]
    assert [e.uid for e in ledger.load({ledger.KEY: json.dumps(rows)})] == ["a"]
    assert ledger.load(None) == []


def test_an_entry_with_a_field_not_of_its_type_is_skipped_whole() -> None:
    """A ConfigMap anyone with the right may edit: a hand-edited entry is skipped, never a
    TypeError in the keeper's informer or in cronctl (which read every ledger)."""
    good = {"uid": "a", "job": "j", "result": "Failed", "trigger": "manual", "exit_code": 1}
    bad = [
        {**good, "uid": "b", "log_tail": 5},
        {**good, "uid": "c", "exit_code": "one"},
        {**good, "uid": "d", "exit_code": True},
        {**good, "uid": "e", "duration_seconds": "9s"},
        {**good, "uid": "f", "summary": ["x"]},
        {**good, "uid": "g", "started": 12},
        {**good, "uid": "h", "job": None},
        {**good, "uid": "i", "cronjob": 3},
    ]
    loaded = ledger.load({ledger.KEY: json.dumps([*bad, good])})
    assert [(e.uid, e.exit_code, e.log_tail) for e in loaded] == [("a", 1, ())]


def test_counts_are_the_summarys_whole_numbers() -> None:
    e = entry(1, summary={"counts": {"deleted": 3, "ratio": 0.5, "ok": True}})
    assert e.counts() == {"deleted": 3}
    assert entry(2, summary={"counts": "x"}).counts() == {}


def test_the_ledger_is_named_after_its_cronjob() -> None:
    assert (
        ledger.configmap_name("maint-cronjobs-health-check") == "maint-cronjobs-health-check-runs"
    )
