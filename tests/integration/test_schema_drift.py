"""The Alembic migrations and the table definitions in ``storage/tables.py`` describe one schema.

Tests copy a database migrated once per session, and the product reads and writes through the
table definitions: if the two drifted apart, tests would still pass on a schema no deployment
has. Alembic's autogenerate comparison of a migrated database against the metadata must find
nothing, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Index, MetaData, String

from asap_sync.storage.tables import metadata


def differences(engine: Engine, target: MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        return list(compare_metadata(context, target))


def test_a_migrated_database_matches_the_table_definitions(engine: Engine) -> None:
    assert differences(engine, metadata) == []


def test_the_comparison_notices_a_column_and_an_index_the_migrations_lack(engine: Engine) -> None:
    drifted = MetaData()
    for original in metadata.sorted_tables:
        original.to_metadata(drifted)
    table = drifted.tables["transactions"]
    table.append_column(Column("drift_note", String(20)))
    Index("ix_transactions_drift_note", table.c.drift_note)
    kinds = {diff[0] for diff in differences(engine, drifted)}
    assert kinds == {"add_column", "add_index"}
