"""monitor items (live page, issue 18)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 (from store/models.py MonitorItem, reviewed)
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitor_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bed', sa.String(length=64), nullable=False),
    sa.Column('session', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bed', 'session', 'key')
    )
    with op.batch_alter_table('monitor_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_items_bed'), ['bed'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('monitor_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitor_items_bed'))
    op.drop_table('monitor_items')
