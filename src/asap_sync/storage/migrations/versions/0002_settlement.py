"""settlement: periods, sealed statements and their lines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_index(
        "ix_transactions_merchant_id_status_period",
        "transactions",
        ["merchant_id", "status", "period"],
    )
    op.create_table(
        "settlement_periods",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("close_started_at", nullable=True),
        _ts("closed_at", nullable=True),
        _ts("assigned_at", nullable=True),
        sa.Column("statement_count", sa.Integer(), nullable=True),
        sa.Column("transaction_count", sa.BigInteger(), nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("period", name="pk_settlement_periods"),
    )
    _create_statements()
    _create_statement_lines()


def _create_statements() -> None:
    counts = [
        sa.Column(name, sa.BigInteger(), nullable=False)
        for name in (
            "transaction_count",
            "pay_count",
            "refund_count",
            "gross_minor",
            "refunded_minor",
            "line_count",
            "commission_e4",
            "commission_minor",
        )
    ]
    op.create_table(
        "statements",
        sa.Column("statement_id", ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *counts,
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        _ts("created_at"),
        _ts("assigned_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["period"],
            ["settlement_periods.period"],
            name="fk_statements_period_settlement_periods",
        ),
        sa.PrimaryKeyConstraint("statement_id", name="pk_statements"),
        sa.UniqueConstraint("period", "merchant_id", name="uq_statements_period_merchant_id"),
    )
    op.create_index("ix_statements_merchant_id_period", "statements", ["merchant_id", "period"])


def _create_statement_lines() -> None:
    # No foreign keys: a million-line close would pay a lookup per row; the audit checks them.
    op.create_table(
        "statement_lines",
        sa.Column("line_id", ID, autoincrement=False, nullable=False),
        sa.Column("statement_id", ID, nullable=False),
        sa.Column("transaction_id", ID, nullable=False),
        sa.Column("out_trans_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        _ts("trans_date"),
        sa.Column("accepted_period", sa.String(length=7), nullable=False),
        sa.Column("transaction_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("origin_out_trans_id", sa.String(length=64), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("rule_kind", sa.String(length=16), nullable=False),
        sa.Column("rule_value", sa.BigInteger(), nullable=False),
        sa.Column("base_minor", sa.BigInteger(), nullable=False),
        sa.Column("commission_e4", sa.BigInteger(), nullable=False),
        sa.Column("goods_index", sa.Integer(), nullable=True),
        sa.Column("goods_code", sa.String(length=32), nullable=True),
        sa.Column("reverses_line_id", ID, nullable=True),
        sa.Column("reverses_statement_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("line_id", name="pk_statement_lines"),
        sa.UniqueConstraint(
            "statement_id",
            "transaction_id",
            "line_no",
            name="uq_statement_lines_statement_id_transaction_id_line_no",
        ),
    )


def downgrade() -> None:
    op.drop_table("statement_lines")
    op.drop_index("ix_statements_merchant_id_period", table_name="statements")
    op.drop_table("statements")
    op.drop_table("settlement_periods")
    op.drop_index("ix_transactions_merchant_id_status_period", table_name="transactions")
