"""The SQL behind the operator's use cases (SQLAlchemy Core, one connection per unit of work)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, text, update

from asap_sync.domain.model import Contract
from asap_sync.service.admin_ports import (
    ACTIVE,
    RETIRED,
    ActivityFilter,
    ClientKeyRecord,
    ClientRecord,
    MerchantLink,
    PlatformKeyRecord,
    RejectionRecord,
    TransactionRecord,
)
from asap_sync.service.journal import Actor
from asap_sync.storage.approvals import SqlApprovalRepository
from asap_sync.storage.directory import contract_from_rows
from asap_sync.storage.tables import (
    client_keys,
    client_merchants,
    clients,
    commission_lines,
    contract_rules,
    contracts,
    platform_keys,
    rejections,
    transactions,
)
from asap_sync.storage.unit_of_work import ConnectionUnit


def advisory_key(scope: str) -> int:
    """A stable signed 64-bit number for a lock scope (PostgreSQL advisory locks take bigint)."""
    digest = hashlib.blake2b(scope.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SqlAdminRepository:
    """Implements :class:`asap_sync.service.admin_ports.AdminRepository` on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, scope: str) -> None:
        # SQLite write transactions already hold the database lock (BEGIN IMMEDIATE); on
        # PostgreSQL a transaction-scoped advisory lock also covers rows that do not exist yet.
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(scope)}
            )

    # -- clients --

    def get_client(self, client_id: str) -> ClientRecord | None:
        found = self._clients(clients.c.client_id == client_id)
        return found[0] if found else None

    def list_clients(self) -> Sequence[ClientRecord]:
        return self._clients()

    def _clients(self, *where: Any) -> list[ClientRecord]:
        rows = self.conn.execute(select(clients).where(*where).order_by(clients.c.client_id)).all()
        ids = [r.client_id for r in rows]
        versions, merchants = defaultdict(list), defaultdict(list)
        last_used: dict[str, datetime] = {}
        k = client_keys
        for key in self.conn.execute(
            select(k.c.client_id, k.c.key_version, k.c.status, k.c.last_used_at)
            .where(k.c.client_id.in_(ids))
            .order_by(k.c.key_version)
        ):
            if key.status == ACTIVE:
                versions[key.client_id].append(key.key_version)
            if key.last_used_at is not None:
                last_used[key.client_id] = max(
                    key.last_used_at, last_used.get(key.client_id, key.last_used_at)
                )
        for link in self.conn.execute(
            select(client_merchants.c.client_id, client_merchants.c.merchant_id)
            .where(client_merchants.c.client_id.in_(ids))
            .order_by(client_merchants.c.merchant_id)
        ):
            merchants[link.client_id].append(link.merchant_id)
        return [
            ClientRecord(
                client_id=r.client_id,
                name=r.name,
                status=r.status,
                created_at=r.created_at,
                active_key_versions=tuple(versions[r.client_id]),
                merchant_ids=tuple(merchants[r.client_id]),
                last_used_at=last_used.get(r.client_id),
            )
            for r in rows
        ]

    def add_client(self, client_id: str, name: str, now: datetime) -> None:
        self.conn.execute(
            insert(clients),
            {"client_id": client_id, "name": name, "status": ACTIVE, "created_at": now},
        )

    def set_client_status(self, client_id: str, status: str) -> None:
        self.conn.execute(
            update(clients).where(clients.c.client_id == client_id).values(status=status)
        )

    # -- client keys --

    def client_keys(self, client_id: str | None) -> Sequence[ClientKeyRecord]:
        query = select(client_keys).order_by(client_keys.c.client_id, client_keys.c.key_version)
        if client_id is not None:
            query = query.where(client_keys.c.client_id == client_id)
        return [
            ClientKeyRecord(
                client_id=r.client_id,
                key_version=r.key_version,
                status=r.status,
                public_key_pem=r.public_key_pem,
                created_at=r.created_at,
                retired_at=r.retired_at,
                last_used_at=r.last_used_at,
            )
            for r in self.conn.execute(query)
        ]

    def add_client_key(self, client_id: str, version: int, pem: str, now: datetime) -> None:
        self.conn.execute(
            insert(client_keys),
            {
                "client_id": client_id,
                "key_version": version,
                "public_key_pem": pem,
                "status": ACTIVE,
                "created_at": now,
            },
        )

    def retire_client_key(self, client_id: str, version: int, now: datetime) -> None:
        self.conn.execute(
            update(client_keys)
            .where(client_keys.c.client_id == client_id, client_keys.c.key_version == version)
            .values(status=RETIRED, retired_at=now)
        )

    # -- merchant links --

    def links(self, client_id: str | None, merchant_id: str | None) -> Sequence[MerchantLink]:
        query = select(client_merchants).order_by(
            client_merchants.c.client_id, client_merchants.c.merchant_id
        )
        if client_id is not None:
            query = query.where(client_merchants.c.client_id == client_id)
        if merchant_id is not None:
            query = query.where(client_merchants.c.merchant_id == merchant_id)
        return [
            MerchantLink(client_id=r.client_id, merchant_id=r.merchant_id, created_at=r.created_at)
            for r in self.conn.execute(query)
        ]

    def link(self, client_id: str, merchant_id: str, now: datetime) -> None:
        self.conn.execute(
            insert(client_merchants),
            {"client_id": client_id, "merchant_id": merchant_id, "created_at": now},
        )

    def unlink(self, client_id: str, merchant_id: str) -> None:
        self.conn.execute(
            delete(client_merchants).where(
                client_merchants.c.client_id == client_id,
                client_merchants.c.merchant_id == merchant_id,
            )
        )

    # -- contracts --

    def contracts(self, merchant_id: str | None) -> Sequence[Contract]:
        query = select(contracts).order_by(contracts.c.merchant_id, contracts.c.valid_from)
        if merchant_id is not None:
            query = query.where(contracts.c.merchant_id == merchant_id)
        return [self._contract(r) for r in self.conn.execute(query).all()]

    def get_contract(self, contract_id: str) -> Contract | None:
        row = self.conn.execute(
            select(contracts).where(contracts.c.contract_id == contract_id)
        ).first()
        return None if row is None else self._contract(row)

    def _contract(self, row: Any) -> Contract:
        rules = self.conn.execute(
            select(contract_rules)
            .where(contract_rules.c.contract_id == row.contract_id)
            .order_by(contract_rules.c.goods_code)
        ).all()
        return contract_from_rows(row, rules)

    def add_contract(self, contract: Contract, now: datetime) -> None:
        window = contract.goods_window
        self.conn.execute(
            insert(contracts),
            {
                "contract_id": contract.contract_id,
                "merchant_id": contract.merchant_id,
                "valid_from": contract.valid_from,
                "valid_to": contract.valid_to,
                "default_rate_bp": contract.default_rate_bp,
                "goods_window_days": None if window is None else window.days,
                "amount_threshold_minor": contract.amount_threshold_minor,
                "created_at": now,
            },
        )
        if contract.rules:
            self.conn.execute(
                insert(contract_rules),
                [
                    {
                        "contract_id": contract.contract_id,
                        "goods_code": code,
                        "kind": rule.kind,
                        "value": rule.value,
                    }
                    for code, rule in contract.rules.items()
                ],
            )

    def set_contract_end(self, contract_id: str, valid_to: datetime) -> None:
        self.conn.execute(
            update(contracts)
            .where(contracts.c.contract_id == contract_id)
            .values(valid_to=valid_to)
        )

    # -- platform key --

    def platform_keys(self) -> Sequence[PlatformKeyRecord]:
        rows = self.conn.execute(select(platform_keys).order_by(platform_keys.c.key_version))
        return [
            PlatformKeyRecord(
                key_version=r.key_version,
                status=r.status,
                public_key_b64=r.public_key_b64,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def add_platform_key(
        self, version: int, private_key_pem: str, public_key_b64: str, now: datetime
    ) -> None:
        self.conn.execute(
            insert(platform_keys),
            {
                "key_version": version,
                "private_key_pem": private_key_pem,
                "public_key_b64": public_key_b64,
                "status": ACTIVE,
                "created_at": now,
            },
        )

    def retire_platform_keys_before(self, version: int) -> None:
        self.conn.execute(
            update(platform_keys)
            .where(platform_keys.c.key_version < version, platform_keys.c.status == ACTIVE)
            .values(status=RETIRED)
        )

    # -- what to watch --

    def rejections(self, which: ActivityFilter) -> Sequence[RejectionRecord]:
        query = _filtered(select(rejections), rejections, which)
        rows = self.conn.execute(query.order_by(rejections.c.rejection_id.desc()))
        return [
            RejectionRecord(
                rejection_id=r.rejection_id,
                received_at=r.received_at,
                code=r.code,
                context=r.context,
                client_id=r.client_id,
                merchant_id=r.merchant_id,
                request_id=r.request_id,
                out_trans_id=r.out_trans_id,
                source=r.source,
            )
            for r in rows
        ]

    def transactions(self, which: ActivityFilter) -> Sequence[TransactionRecord]:
        commission = (
            select(func.coalesce(func.sum(commission_lines.c.commission_e4), 0))
            .where(
                commission_lines.c.transaction_id == transactions.c.transaction_id,
                commission_lines.c.superseded_at.is_(None),
            )
            .scalar_subquery()
        )
        query = _filtered(
            select(transactions, commission.label("commission_e4")), transactions, which
        )
        rows = self.conn.execute(query.order_by(transactions.c.transaction_id.desc()))
        return [
            TransactionRecord(
                transaction_id=r.transaction_id,
                merchant_id=r.merchant_id,
                out_trans_id=r.out_trans_id,
                client_id=r.client_id,
                direction=r.direction,
                status=r.status,
                period=r.period,
                amount_minor=r.amount_minor,
                commission_e4=int(r.commission_e4),
                trans_date=r.trans_date,
                accepted_at=r.accepted_at,
                contract_id=r.contract_id,
            )
            for r in rows
        ]


def _filtered(query: Select[Any], table: Any, which: ActivityFilter) -> Select[Any]:
    if which.merchant_id is not None:
        query = query.where(table.c.merchant_id == which.merchant_id)
    if which.client_id is not None:
        query = query.where(table.c.client_id == which.client_id)
    return query.limit(which.limit)


class SqlAdminUnitOfWork(ConnectionUnit):
    """Implements :class:`asap_sync.service.admin_ports.AdminUnitOfWork` on an engine."""

    admin: SqlAdminRepository
    approvals: SqlApprovalRepository

    def _opened(self, conn: Connection) -> None:
        self.admin = SqlAdminRepository(conn)
        self.approvals = SqlApprovalRepository(conn)


class SqlAdminSessions:
    """Implements :class:`asap_sync.service.admin_ports.AdminSessions` on an engine."""

    def __init__(self, engine: Engine, *, actor: Actor | None = None) -> None:
        self._engine, self.actor = engine, actor

    def __call__(self, *, read_only: bool = False) -> SqlAdminUnitOfWork:
        return SqlAdminUnitOfWork(self._engine, read_only=read_only, actor=self.actor)

    def acting(self, actor: Actor) -> SqlAdminSessions:
        return SqlAdminSessions(self._engine, actor=actor)
