"""Reads of the directory (clients, keys, platform key, links and contracts) at one version,
and the log of rejected requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, and_, bindparam, case, insert, or_, select, update

from asap_sync.domain.model import Contract, Rule, RuleKind
from asap_sync.service.directory import ClientKeys, DirectoryRead, PlatformKey
from asap_sync.service.ports import LinkKey, Rejection
from asap_sync.storage.engine import READ_ONLY, write_lock
from asap_sync.storage.tables import (
    UtcDateTime,
    client_keys,
    client_merchants,
    clients,
    contract_rules,
    contracts,
    directory_version,
    platform_keys,
    rejections,
)

_VERSION = select(directory_version.c.version).where(directory_version.c.id == 1)
# One statement: the status and the active keys come from the same snapshot.
_CLIENT_KEYS = (
    select(clients.c.status, client_keys.c.key_version, client_keys.c.public_key_pem)
    .select_from(
        clients.outerjoin(
            client_keys,
            and_(client_keys.c.client_id == clients.c.client_id, client_keys.c.status == "active"),
        )
    )
    .where(clients.c.client_id == bindparam("client_id"))
)
_PLATFORM_KEY = (
    select(platform_keys)
    .where(platform_keys.c.status == "active")
    .order_by(platform_keys.c.key_version.desc())
    .limit(1)
)
# Linked or not, and the merchant's contracts with their rules, in one statement.
_MERCHANT_CONTRACTS = (
    select(
        client_merchants.c.merchant_id.label("linked"),
        contracts,
        contract_rules.c.goods_code,
        contract_rules.c.kind,
        contract_rules.c.value,
    )
    .select_from(
        client_merchants.outerjoin(
            contracts, contracts.c.merchant_id == client_merchants.c.merchant_id
        ).outerjoin(contract_rules, contract_rules.c.contract_id == contracts.c.contract_id)
    )
    .where(
        client_merchants.c.client_id == bindparam("client_id"),
        client_merchants.c.merchant_id == bindparam("merchant_id"),
    )
    .order_by(contracts.c.valid_from, contracts.c.contract_id)
)


class SqlDirectoryReader:
    """Implements :class:`asap_sync.service.directory.DirectoryReader`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self, client_ids: Iterable[str], links: Iterable[LinkKey]) -> DirectoryRead:
        with self._reader() as conn, conn.begin():
            version = conn.execute(_VERSION).scalar()
            return DirectoryRead(
                version=None if version is None else int(version),
                clients={c: _client_keys(conn, c) for c in client_ids},
                contracts={link: _merchant_contracts(conn, *link) for link in links},
                platform=_platform_key(conn),
            )

    def version(self) -> int | None:
        with self._reader() as conn:
            version = conn.execute(_VERSION).scalar()
        return None if version is None else int(version)

    def _reader(self) -> Connection:
        conn = self._engine.connect()
        if conn.dialect.name == "postgresql":
            return conn.execution_options(isolation_level="REPEATABLE READ")
        return conn.execution_options(**{READ_ONLY: True})


def _client_keys(conn: Connection, client_id: str) -> ClientKeys | None:
    rows = conn.execute(_CLIENT_KEYS, {"client_id": client_id}).all()
    if not rows:
        return None
    return ClientKeys(
        client_id=client_id,
        active=rows[0].status == "active",
        keys={int(r.key_version): r.public_key_pem for r in rows if r.key_version is not None},
    )


def _platform_key(conn: Connection) -> PlatformKey | None:
    row: Row[Any] | None = conn.execute(_PLATFORM_KEY).first()
    if row is None:
        return None
    return PlatformKey(
        key_version=row.key_version,
        private_key_pem=row.private_key_pem,
        public_key_b64=row.public_key_b64,
    )


def _merchant_contracts(
    conn: Connection, client_id: str, merchant_id: str
) -> tuple[Contract, ...] | None:
    rows = conn.execute(
        _MERCHANT_CONTRACTS, {"client_id": client_id, "merchant_id": merchant_id}
    ).all()
    if not rows:
        return None
    grouped: dict[str, list[Row[Any]]] = {}
    for row in rows:
        if row.contract_id is not None:
            grouped.setdefault(row.contract_id, []).append(row)
    return tuple(
        contract_from_rows(group[0], [r for r in group if r.goods_code is not None])
        for group in grouped.values()
    )


def contract_from_rows(row: Row[Any], rules: Sequence[Any]) -> Contract:
    """A domain contract from its row and its rule rows."""
    return Contract(
        contract_id=row.contract_id,
        merchant_id=row.merchant_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        rules={r.goods_code: Rule(kind=cast(RuleKind, r.kind), value=r.value) for r in rules},
        default_rate_bp=row.default_rate_bp,
        goods_window=(
            None if row.goods_window_days is None else timedelta(days=row.goods_window_days)
        ),
        amount_threshold_minor=row.amount_threshold_minor,
    )


class SqlKeyUse:
    """Stores the keys' last use: never moved backwards (the later of stored and given)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_key_use(self, uses: Mapping[tuple[str, int], datetime]) -> None:
        """``UPDATE ... SET last_used_at = max(last_used_at, :at)`` for each key, at once."""
        k = client_keys
        at = bindparam("at", type_=UtcDateTime())
        query = (
            update(k)
            .where(k.c.client_id == bindparam("c"), k.c.key_version == bindparam("v"))
            .values(
                last_used_at=case(
                    (or_(k.c.last_used_at.is_(None), k.c.last_used_at < at), at),
                    else_=k.c.last_used_at,
                )
            )
        )
        rows = [{"c": c, "v": v, "at": moment} for (c, v), moment in sorted(uses.items())]
        with write_lock(self._engine), self._engine.begin() as conn:
            conn.execute(query, rows)


class SqlRejectionLog:
    """Keeps rejected requests for the operator, outside the transaction ledger."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, rejection: Rejection) -> None:
        """Implements :class:`asap_sync.service.ports.RejectionSink`."""
        self.record_rejections([rejection])

    def record_rejections(self, batch: list[Rejection]) -> None:
        """Keep several rejections in one transaction."""
        rows = [
            {
                "received_at": r.received_at,
                "client_id": r.client_id,
                "merchant_id": r.merchant_id,
                "request_id": r.request_id,
                "out_trans_id": r.out_trans_id,
                "code": r.code,
                "context": r.context,
                "source": r.source[:64] if r.source else None,
            }
            for r in batch
        ]
        with write_lock(self._engine), self._engine.begin() as conn:
            conn.execute(insert(rejections), rows)
