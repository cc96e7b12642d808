"""The schema, as SQLAlchemy Core tables; migrations/ creates exactly this.

Every table is keyed by hall so a hall can be partitioned (Citus: distribute on hall_id).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from server.storage.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

# The hall row: epoch and the gapless event seq. Updated last in every write transaction
# (one lock order everywhere: window → tickets → queue state → hall → waiting counts, the
# last taken by a deferred trigger at COMMIT).
halls = Table(
    "halls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("epoch", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)

# One counter row per (hall, queue, business day): ticket numbers are gapless, never reused.
counters = Table(
    "counters",
    metadata,
    Column("hall_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("value", Integer, nullable=False),
)

queue_state = Table(
    "queue_state",
    metadata,
    Column("hall_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("priority_streak", Integer, nullable=False, server_default="0"),
)

windows = Table(
    "windows",
    metadata,
    Column("hall_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("number", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("zone", String(64), nullable=False),
    # Which queues a window serves is data, editable at run time (综合窗口 grow category by
    # category), seeded from config.toml only when the row is created.
    Column("queues", JSON, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),
    Column("staff_id", String(64)),
    Column("updated_at", UTCDateTime, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("queue_id", String(64), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("counter", Integer, nullable=False),
    Column("number", String(16), nullable=False),
    Column("lane", String(32), nullable=False),
    Column("lane_rank", SmallInteger, nullable=False),
    Column("klass", SmallInteger, nullable=False),
    Column("position", Double, nullable=False),
    Column("service", String(64)),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("window_id", String(64)),
    Column("called_at", UTCDateTime),
    Column("served_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("recalls", SmallInteger, nullable=False, server_default="0"),
    Column("last_recall_at", UTCDateTime),
    Column("requeues", SmallInteger, nullable=False, server_default="0"),
    Column("outcome", String(16)),
    Column("call_reason", String(48)),
    Column("status_token", String(64), nullable=False),
    Column("issued_by", String(64)),
    Column("verified_by", String(64)),
    UniqueConstraint("status_token"),
    # The calling index: only waiting tickets, in call order, so call-next is an index probe
    # whatever the table size (a plain composite index scanned and sorted every call).
    Index(
        "ix_tickets_waiting",
        "hall_id",
        "queue_id",
        "klass",
        "lane_rank",
        "position",
        sqlite_where=text("status = 'waiting'"),
        postgresql_where=text("status = 'waiting'"),
    ),
    # At most one active ticket per window.
    Index(
        "uq_tickets_active_window",
        "hall_id",
        "window_id",
        unique=True,
        sqlite_where=text("status IN ('called', 'serving')"),
        postgresql_where=text("status IN ('called', 'serving')"),
    ),
    # A number is unique per hall and day (queue prefixes differ within a hall). Not per queue:
    # a transferred ticket keeps its number and counter in its new queue.
    Index("uq_tickets_hall_date_number", "hall_id", "business_date", "number", unique=True),
    Index("ix_tickets_hall_status_date", "hall_id", "status", "business_date"),
)

# Waiting tickets per hall, queue, class and lane rank, kept by triggers on ``tickets``
# (migrations/versions/0005_waiting_counts.py): a new ticket's people-ahead is a sum over a
# few rows plus the tickets behind it, instead of a count over every waiting ticket of its
# queue (O(n): 0.4 ms at 3,000 waiting on SQLite). On PostgreSQL the trigger is deferred to
# COMMIT, after the hall row is locked, so these rows never change the lock order.
waiting_counts = Table(
    "waiting_counts",
    metadata,
    Column("hall_id", String(64), primary_key=True),
    Column("queue_id", String(64), primary_key=True),
    Column("klass", SmallInteger, primary_key=True),
    Column("lane_rank", SmallInteger, primary_key=True),
    Column("n", Integer, nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("code", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hall_id", String(64)),
    Column("password_hash", String(256), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
)

# Failed logins per username (SHA-256 of it), existing or not: throttling an unknown name
# exactly like a real one keeps the answers alike, so accounts cannot be discovered (R14).
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", String(32), ForeignKey("staff.id"), nullable=False),
    Column("hall_id", String(64)),
    Column("window_id", String(64)),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("window_id", String(64)),
    Column("zone_id", String(64)),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("pairing_hash", String(64), unique=True),
    Column("pairing_expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", SmallInteger),
    Column("response", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_idempotency_created_at", "created_at"),
)

# Append-only: actor, hall, window, ticket, action, outcome, time. No personal data.
audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("hall_id", String(64)),
    Column("window_id", String(64)),
    Column("ticket_id", String(32)),
    Column("action", String(48), nullable=False),
    Column("outcome", String(48), nullable=False),
    Column("detail", String(200)),
    Index("ix_audit_hall_at", "hall_id", "at"),
)

# Events of committed changes, seq gapless per hall, written in the same transaction.
outbox = Table(
    "outbox",
    metadata,
    Column("hall_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("epoch", String(32), nullable=False),
    Column("name", String(48), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    Column("published", Boolean, nullable=False, server_default=text("false")),
    Index(
        "ix_outbox_unpublished",
        "hall_id",
        "seq",
        sqlite_where=text("published = 0"),
        postgresql_where=text("published = false"),
    ),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("ticket_id", String(32), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("window_id", String(64)),
    Column("rating", SmallInteger, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("comment", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("followup_due", Date),
)

# Tickets to print at the kiosk that issued them (or a reprint there): pending → sent →
# printed | failed. The ticket is committed regardless of the printer (ticket first, paper
# second); a reprint is a new job for the same ticket, never a new ticket.
print_jobs = Table(
    "print_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("ticket_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Open jobs only: each process polls these for the kiosks connected to it.
    Index(
        "ix_print_jobs_open",
        "device_id",
        "created_at",
        sqlite_where=text("status IN ('pending', 'sent')"),
        postgresql_where=text("status IN ('pending', 'sent')"),
    ),
    Index("ix_print_jobs_ticket_id", "ticket_id"),
)

# The last printer status each kiosk agent reported: a device.status event is written only
# when it changes. No personal data: online, paper and cover flags.
device_status = Table(
    "device_status",
    metadata,
    Column("device_id", String(32), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("printer", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
