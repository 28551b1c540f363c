"""operators, the activity log and the history of audit runs (the console)

Operator accounts for the console (a role, a scrypt password hash, a session epoch that a
reset or a disable bumps), the activity log of every change made from the console or the CLI,
and the audit runs started from the console with their findings. An index on
``transactions.accepted_at`` lets the console count a day's syncs and search a date range
without reading the whole table (it grows at the right edge: accepted_at only increases).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_operators"),
    )
    op.create_table(
        "activity_log",
        sa.Column("activity_id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("activity_id", name="pk_activity_log"),
    )
    op.create_index("ix_activity_log_at", "activity_log", ["at"])
    op.create_table(
        "audit_runs",
        sa.Column("audit_run_id", Id, autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("violation_count", sa.BigInteger(), nullable=False),
        sa.Column("transactions", sa.BigInteger(), nullable=False),
        sa.Column("statements", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("audit_run_id", name="pk_audit_runs"),
    )
    op.create_index("ix_transactions_accepted_at", "transactions", ["accepted_at"])


def downgrade() -> None:
    op.drop_index("ix_transactions_accepted_at", table_name="transactions")
    op.drop_table("audit_runs")
    op.drop_index("ix_activity_log_at", table_name="activity_log")
    op.drop_table("activity_log")
    op.drop_table("operators")
