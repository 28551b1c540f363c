"""the settlement claim index leads with status

``ix_transactions_merchant_id_status_period`` shared its leading column with the unique
(merchant_id, outTransId) index. A plan made while ``transactions`` was still small could then
look a transaction up by merchant alone and filter on outTransId: a scan of the merchant's
whole history for every sync, growing with the table until the next ANALYZE. Led by status,
the claim index serves the close as before (status and merchant equal, period a range) and can
no longer stand in for the unique index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_transactions_merchant_id_status_period", table_name="transactions")
    op.create_index(
        "ix_transactions_status_merchant_id_period",
        "transactions",
        ["status", "merchant_id", "period"],
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_status_merchant_id_period", table_name="transactions")
    op.create_index(
        "ix_transactions_merchant_id_status_period",
        "transactions",
        ["merchant_id", "status", "period"],
    )
