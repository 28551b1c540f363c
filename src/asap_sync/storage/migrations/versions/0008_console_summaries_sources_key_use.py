"""console day summaries, the source of a rejection, the last use of a client key

``console_days`` and ``console_day_counts`` keep, per UTC day that is over, the accepted syncs
(per period) and the rejections (per code, client and source): acceptance and rejection times
only grow, so a day's counts never change once it has ended. The console fills them lazily,
the first time a page needs a day; nothing on the ingestion path writes them.

``rejections.source`` is the caller's address. ``client_keys.last_used_at`` is written by the
servers at most once a minute; the directory-version trigger on ``client_keys`` now ignores it
(a key's last use is not a change of the directory the servers cache).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"
KEY_COLUMNS = "client_id, key_version, public_key_pem, status, created_at, retired_at"


def upgrade() -> None:
    op.create_table(
        "console_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_console_days"),
    )
    op.create_table(
        "console_day_counts",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "kind", "period", "code", "client_id", "source", name="pk_console_day_counts"
        ),
    )
    op.add_column("rejections", sa.Column("source", sa.String(64), nullable=True))
    op.add_column(
        "client_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER client_keys_directory_version ON client_keys")
        op.execute(
            "CREATE TRIGGER client_keys_directory_version AFTER INSERT OR DELETE OR UPDATE OF "
            f"{KEY_COLUMNS} ON client_keys FOR EACH STATEMENT "
            "EXECUTE FUNCTION bump_directory_version()"
        )
    else:
        op.execute("DROP TRIGGER client_keys_directory_version_update")
        op.execute(
            f"CREATE TRIGGER client_keys_directory_version_update AFTER UPDATE OF {KEY_COLUMNS} "
            f"ON client_keys BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER client_keys_directory_version ON client_keys")
        op.execute(
            "CREATE TRIGGER client_keys_directory_version AFTER INSERT OR UPDATE OR DELETE "
            "ON client_keys FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version()"
        )
    else:
        op.execute("DROP TRIGGER client_keys_directory_version_update")
        op.execute(
            "CREATE TRIGGER client_keys_directory_version_update AFTER UPDATE "
            f"ON client_keys BEGIN {BUMP}; END"
        )
    with op.batch_alter_table("client_keys") as batch_op:
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("rejections") as batch_op:
        batch_op.drop_column("source")
    op.drop_table("console_day_counts")
    op.drop_table("console_days")
