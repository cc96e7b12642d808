"""failed logins counted per username, not per staff row

Counting only on staff rows throttled real accounts but never unknown names, so the sixth
wrong try told them apart (429 against 401). Failures now live in their own table keyed by a
hash of the username.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", server.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", server.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", server.storage.types.UTCDateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
    op.drop_table("login_failures")
