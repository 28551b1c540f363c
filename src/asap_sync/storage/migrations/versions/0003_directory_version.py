"""directory version: bumped by triggers whenever clients, their keys or platform keys change

Servers cache what the gateway reads (clients, active keys, the platform key) and read only
this number per request; a change made by any means, CLI or SQL, invalidates every cache.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WATCHED = ("clients", "client_keys", "platform_keys")
BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    table = op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_directory_version() RETURNS trigger AS $$ "
            f"BEGIN {BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        for name in WATCHED:
            op.execute(
                f"CREATE TRIGGER {name}_directory_version AFTER INSERT OR UPDATE OR DELETE "
                f"ON {name} FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version()"
            )
        return
    for name in WATCHED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {name}_directory_version_{event.lower()} AFTER {event} "
                f"ON {name} BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in WATCHED:
            op.execute(f"DROP TRIGGER {name}_directory_version ON {name}")
        op.execute("DROP FUNCTION bump_directory_version()")
    else:
        for name in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {name}_directory_version_{event}")
    op.drop_table("directory_version")
