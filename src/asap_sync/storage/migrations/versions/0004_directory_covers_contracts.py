"""directory version also covers client-merchant links, contracts and contract rules

Servers cache a merchant's link and contracts per process on the same terms as clients and
keys: trusted while the directory version stands still.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WATCHED = ("client_merchants", "contracts", "contract_rules")
BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
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
    for name in WATCHED:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {name}_directory_version ON {name}")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {name}_directory_version_{event}")
