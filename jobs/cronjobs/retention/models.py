"""The app's tables the jobs touch, as SQLAlchemy Core tables on one `metadata`.

The FastAPI app owns this schema; the jobs only read and delete rows (and upsert
daily_analytics). A team whose tables are named differently changes them here, and the ages
in `cronjobs.retention.tables`. Core, not ORM declarative classes: the jobs build statements on
tables, and a run should not pay for importing `sqlalchemy.orm`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)

# BIGINT ids on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True)

metadata = MetaData()

chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("title", String(200)),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp),
)
# "Old" means old by last activity; this index lets the cleanup find old rows fast.
Index(
    "ix_chat_sessions_last_activity",
    func.coalesce(chat_sessions.c.updated_at, chat_sessions.c.created_at),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "session_id",
        ForeignKey("chat_sessions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

peptide_info_sessions = Table(
    "peptide_info_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("peptide", String(100), nullable=False),
    Column("data", JSON),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp),
)
Index(
    "ix_peptide_info_sessions_last_activity",
    func.coalesce(peptide_info_sessions.c.updated_at, peptide_info_sessions.c.created_at),
)

analytics_events = Table(
    "analytics_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("user_id", String(64)),
    Column("properties", JSON),
    Column("occurred_at", Timestamp, nullable=False, index=True),
)

daily_analytics = Table(
    "daily_analytics",
    metadata,
    Column("day", Date, primary_key=True),
    Column("event_type", String(64), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    Column("unique_users", BigInteger, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)
