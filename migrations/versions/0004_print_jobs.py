"""print jobs for kiosk agents, and the last printer status of each kiosk

A kiosk-issued ticket gets a print job in the issuing transaction; the kiosk agent acks it
printed or failed over the websocket. device_status keeps the last reported printer state so
a device.status event is written only when it changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'sent')"


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("created_at", server.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_print_jobs_open",
            ["device_id", "created_at"],
            unique=False,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_index("ix_print_jobs_ticket_id", ["ticket_id"], unique=False)
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("printer", sa.JSON(), nullable=False),
        sa.Column("updated_at", server.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_status")),
    )


def downgrade() -> None:
    op.drop_table("device_status")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_print_jobs_ticket_id")
        batch_op.drop_index(
            "ix_print_jobs_open", sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN)
        )
    op.drop_table("print_jobs")
