"""ticket numbers unique per hall and day, not per queue

A transfer moves a ticket, keeping its number and counter, into another queue; the key
(hall, queue, day, counter) then collided with that queue's own ticket of the same counter
(A001 transferred to the queue of B001). Numbers are unique per hall and day (a hall's queue
prefixes differ), which is also how a window calls a ticket by number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tickets_hall_id_queue_id_business_date_counter', type_='unique')
        batch_op.drop_index('ix_tickets_hall_date_number')
        batch_op.create_index(
            'uq_tickets_hall_date_number', ['hall_id', 'business_date', 'number'], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('uq_tickets_hall_date_number')
        batch_op.create_index(
            'ix_tickets_hall_date_number', ['hall_id', 'business_date', 'number'], unique=False
        )
        batch_op.create_unique_constraint(
            'uq_tickets_hall_id_queue_id_business_date_counter',
            ['hall_id', 'queue_id', 'business_date', 'counter'],
        )
