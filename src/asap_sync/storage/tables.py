"""The schema, as SQLAlchemy Core tables: the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(name: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable)


clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(256), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="active"),
    _ts("created_at"),
)

client_keys = Table(
    "client_keys",
    metadata,
    Column("client_id", String(64), ForeignKey("clients.client_id"), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("public_key_pem", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    _ts("created_at"),
    _ts("retired_at", nullable=True),
    # Written by the servers at most once a minute (migration 0008); not a directory change.
    _ts("last_used_at", nullable=True),
    PrimaryKeyConstraint("client_id", "key_version"),
)

client_merchants = Table(
    "client_merchants",
    metadata,
    Column("client_id", String(64), ForeignKey("clients.client_id"), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("client_id", "merchant_id"),
)

platform_keys = Table(
    "platform_keys",
    metadata,
    Column("key_version", Integer, primary_key=True, autoincrement=False),
    Column("private_key_pem", Text, nullable=False),
    Column("public_key_b64", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    _ts("created_at"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", String(64), primary_key=True),
    Column("merchant_id", String(64), nullable=False, index=True),
    _ts("valid_from"),
    _ts("valid_to", nullable=True),
    Column("default_rate_bp", Integer, nullable=False, server_default="0"),
    Column("goods_window_days", Integer, nullable=True),
    Column("amount_threshold_minor", BigInteger, nullable=True),
    _ts("created_at"),
)

contract_rules = Table(
    "contract_rules",
    metadata,
    Column("contract_id", String(64), ForeignKey("contracts.contract_id"), nullable=False),
    Column("goods_code", String(32), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("contract_id", "goods_code"),
)

raw_requests = Table(
    "raw_requests",
    metadata,
    Column("raw_request_id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(256), nullable=False),
    Column("request_time", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    _ts("received_at"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", String(64), nullable=False),
    Column("out_trans_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("origin_id", Id, ForeignKey("transactions.transaction_id"), nullable=True),
    Column("sub_merchant_id", String(64), nullable=True),
    Column("store_id", String(64), nullable=True),
    _ts("trans_date"),
    Column("amount_minor", BigInteger, nullable=False),
    Column("contract_id", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="PENDING"),
    Column("period", String(7), nullable=False),
    Column("statement_id", Id, nullable=True),
    Column("content", Text, nullable=False),
    Column("raw_request_id", Id, ForeignKey("raw_requests.raw_request_id"), nullable=False),
    Column("revision", Integer, nullable=False, server_default="1"),
    _ts("accepted_at"),
    _ts("updated_at"),
    UniqueConstraint("merchant_id", "out_trans_id"),
    Index("ix_transactions_status_period", "status", "period"),
    Index("ix_transactions_origin_id", "origin_id"),
    Index("ix_transactions_statement_id", "statement_id"),
)

commission_lines = Table(
    "commission_lines",
    metadata,
    Column("line_id", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Id, ForeignKey("transactions.transaction_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("rule_kind", String(16), nullable=False),
    Column("rule_value", BigInteger, nullable=False),
    Column("base_minor", BigInteger, nullable=False),
    Column("commission_e4", BigInteger, nullable=False),
    Column("goods_index", Integer, nullable=True),
    Column("goods_code", String(32), nullable=True),
    Column("reverses_line_id", Id, ForeignKey("commission_lines.line_id"), nullable=True),
    _ts("created_at"),
    _ts("superseded_at", nullable=True),
    Index("ix_commission_lines_transaction_id", "transaction_id"),
    Index("ix_commission_lines_reverses_line_id", "reverses_line_id"),
)

request_bindings = Table(
    "request_bindings",
    metadata,
    Column("client_id", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("out_trans_id", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("raw_request_id", Id, ForeignKey("raw_requests.raw_request_id"), nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("client_id", "request_id"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("rejection_id", Id, primary_key=True, autoincrement=True),
    _ts("received_at"),
    Column("client_id", String(64), nullable=True),
    Column("merchant_id", String(64), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("out_trans_id", String(64), nullable=True),
    Column("code", String(64), nullable=False),
    Column("context", Text, nullable=False),
    Column("source", String(64), nullable=True),  # the caller's address (migration 0008)
    Index("ix_rejections_received_at", "received_at"),
)

# --- Settlement (migration 0002): periods, sealed statements and their lines ---

# Closing a period claims one merchant's PENDING transactions at a time. Led by status, not
# by merchant_id, so that it can never stand in for the unique (merchant_id, out_trans_id)
# index in a lookup of one transaction (migration 0005).
Index(
    "ix_transactions_status_merchant_id_period",
    transactions.c.status,
    transactions.c.merchant_id,
    transactions.c.period,
)

settlement_periods = Table(
    "settlement_periods",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("status", String(16), nullable=False),
    _ts("close_started_at", nullable=True),
    _ts("closed_at", nullable=True),
    _ts("assigned_at", nullable=True),
    Column("statement_count", Integer, nullable=True),
    Column("transaction_count", BigInteger, nullable=True),
    _ts("updated_at"),
)

statements = Table(
    "statements",
    metadata,
    Column("statement_id", Id, primary_key=True, autoincrement=True),
    Column("period", String(7), ForeignKey("settlement_periods.period"), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("transaction_count", BigInteger, nullable=False),
    Column("pay_count", BigInteger, nullable=False),
    Column("refund_count", BigInteger, nullable=False),
    Column("gross_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("line_count", BigInteger, nullable=False),
    Column("commission_e4", BigInteger, nullable=False),
    Column("commission_minor", BigInteger, nullable=False),
    Column("content_hash", String(64), nullable=False),
    _ts("created_at"),
    _ts("assigned_at", nullable=True),
    UniqueConstraint("period", "merchant_id"),
    Index("ix_statements_merchant_id_period", "merchant_id", "period"),
)

statement_lines = Table(
    "statement_lines",
    metadata,
    # A commission line is settled at most once: the primary key is the line itself. No foreign
    # keys: they would cost a lookup (a trigger on PostgreSQL) per row of a million-line close;
    # the audit checks every reference instead.
    Column("line_id", Id, primary_key=True, autoincrement=False),
    Column("statement_id", Id, nullable=False),
    Column("transaction_id", Id, nullable=False),
    Column("out_trans_id", String(64), nullable=False),
    Column("direction", String(8), nullable=False),
    _ts("trans_date"),
    Column("accepted_period", String(7), nullable=False),
    Column("transaction_amount_minor", BigInteger, nullable=False),
    Column("origin_out_trans_id", String(64), nullable=True),
    Column("line_no", Integer, nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("rule_kind", String(16), nullable=False),
    Column("rule_value", BigInteger, nullable=False),
    Column("base_minor", BigInteger, nullable=False),
    Column("commission_e4", BigInteger, nullable=False),
    Column("goods_index", Integer, nullable=True),
    Column("goods_code", String(32), nullable=True),
    Column("reverses_line_id", Id, nullable=True),
    Column("reverses_statement_id", Id, nullable=True),
    UniqueConstraint("statement_id", "transaction_id", "line_no"),
)


# One row, bumped by database triggers (migration 0003) on every change to clients,
# client_keys or platform_keys: the servers' gateway caches are valid while it stands still.
directory_version = Table(
    "directory_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)


# --- The console (migration 0007): operator accounts, the activity log, audit runs ---

# The console counts accepted syncs per day and searches by date: a range scan, not the table.
Index("ix_transactions_accepted_at", transactions.c.accepted_at)

operators = Table(
    "operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    # Bumped by a password reset or a disable: signed session cookies carry the epoch they
    # were issued under, so changing it ends every open session of the operator.
    Column("session_epoch", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
)

activity_log = Table(
    "activity_log",
    metadata,
    Column("activity_id", Id, primary_key=True, autoincrement=True),
    _ts("at"),
    Column("actor", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Index("ix_activity_log_at", "at"),
)

audit_runs = Table(
    "audit_runs",
    metadata,
    Column("audit_run_id", Id, primary_key=True, autoincrement=True),
    _ts("started_at"),
    _ts("finished_at"),
    Column("actor", String(128), nullable=False),
    Column("ok", Integer, nullable=False),
    Column("violation_count", BigInteger, nullable=False),
    Column("transactions", BigInteger, nullable=False),
    Column("statements", BigInteger, nullable=False),
    Column("report", Text, nullable=False),
)


# --- The console's day summaries (migration 0008) ---

# A UTC day that is over, once summarized: its counts below never change any more.
console_days = Table(
    "console_days",
    metadata,
    Column("day", String(10), primary_key=True),
    _ts("summarized_at"),
)

# Per summarized day: accepted syncs per period (kind "accepted"), rejections per code, client
# and source (kind "rejected"); the columns that do not apply hold "".
console_day_counts = Table(
    "console_day_counts",
    metadata,
    Column("day", String(10), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("period", String(7), nullable=False),
    Column("code", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("count", BigInteger, nullable=False),
    _ts("first_at"),
    _ts("last_at"),
    PrimaryKeyConstraint("day", "kind", "period", "code", "client_id", "source"),
)


# --- Two-person approval (migration 0009): server settings, proposals ---

server_settings = Table(
    "server_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    _ts("updated_at"),
    Column("updated_by", String(128), nullable=False),
)

proposals = Table(
    "proposals",
    metadata,
    Column("proposal_id", Id, primary_key=True, autoincrement=True),
    Column("action", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("proposed_by", String(128), nullable=False),
    Column("proposed_source", String(16), nullable=False),
    _ts("proposed_at"),
    Column("decided_by", String(128), nullable=True),
    Column("decided_source", String(16), nullable=True),
    _ts("decided_at", nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_proposals_status", "status", "proposal_id"),
)
