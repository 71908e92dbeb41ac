"""Retention rules: which rows are old, by which timestamp, and what goes with them.

The one place to change what the cleanup jobs delete. Ages are defaults; each job also takes
`--older-than-days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, ColumnElement, Table, func

from cronjobs.builtin.models import AnalyticsEvent, ChatMessage, ChatSession, PeptideInfoSession


@dataclass(frozen=True)
class Retention:
    table: Table
    age_of: ColumnElement[object]
    """The expression a row's age is measured on."""
    days: int
    children: tuple[Column[Any], ...] = ()
    """Foreign-key columns of child rows deleted in the same transaction as their parent
    (explicitly, so it works whether or not the database enforces ON DELETE CASCADE)."""
    whole_days: bool = False
    """Round the cutoff down to midnight UTC, so a day is deleted whole or not at all."""

    @property
    def name(self) -> str:
        """The table's name as reports show it: `schema.table` when a rules file names one."""
        return str(self.table.fullname)


def _last_activity(model: type[ChatSession] | type[PeptideInfoSession]) -> ColumnElement[object]:
    # Old by last activity, never by creation alone: updated_at, else created_at.
    return func.coalesce(model.updated_at, model.created_at)


SESSIONS: tuple[Retention, ...] = (
    Retention(
        table=ChatSession.__table__,  # type: ignore[arg-type]
        age_of=_last_activity(ChatSession),
        days=90,
        children=(cast(Column[Any], ChatMessage.__table__.c.session_id),),
    ),
    Retention(
        table=PeptideInfoSession.__table__,  # type: ignore[arg-type]
        age_of=_last_activity(PeptideInfoSession),
        days=90,
    ),
)

ANALYTICS_EVENTS = Retention(
    table=AnalyticsEvent.__table__,  # type: ignore[arg-type]
    age_of=AnalyticsEvent.__table__.c.occurred_at,
    days=365,
    whole_days=True,
)
