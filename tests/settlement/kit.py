"""Settlement test kit: register merchants, then pay, refund and update through the real
ingestion service with really signed requests (so the audit can re-verify them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, insert

from asap_sync.domain.errors import RuleViolation
from asap_sync.domain.model import SyncCommand
from asap_sync.service.audit import AuditReport, audit
from asap_sync.service.decide import AcceptPolicy, Outcome, Pending, PendingSync
from asap_sync.service.directory import Directory
from asap_sync.service.ingest import Ingestor
from asap_sync.service.journal import Actor
from asap_sync.service.ports import SignedRequest
from asap_sync.service.settlement import AssignReport, CloseReport, assign_period, close_period
from asap_sync.service.sync_command import to_command
from asap_sync.storage.audit_queries import audit_queries
from asap_sync.storage.directory import SqlDirectoryReader
from asap_sync.storage.ledger import SqlLedger
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from asap_sync.storage.tables import (
    client_keys,
    client_merchants,
    clients,
    contract_rules,
    contracts,
)
from asap_sync.wire import (
    ENDPOINT_PATH,
    format_signature_header,
    generate_private_key,
    parse_sync_body,
    public_key_pem,
    sign,
    signing_content,
)

CLIENT = "client-1"
ZONE = ZoneInfo("Asia/Hong_Kong")
T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
RULES = {"RENEWAL": ("rate", 150), "NEW_CONTRACT": ("fixed", 5000)}
DEFAULT_RATE_BP = 100
Goods = Sequence[tuple[str, int]]


@cache
def client_key() -> rsa.RSAPrivateKey:
    """The merchant's signing key, made once per session."""
    return generate_private_key()


def register(engine: Engine, merchants: Sequence[str], *, client_id: str = CLIENT) -> None:
    """A client with key version 1, linked to each merchant, each with an open-ended contract."""
    with engine.begin() as conn:
        conn.execute(insert(clients), {"client_id": client_id, "created_at": T0})
        conn.execute(
            insert(client_keys),
            {
                "client_id": client_id,
                "key_version": 1,
                "public_key_pem": public_key_pem(client_key().public_key()),
                "created_at": T0,
            },
        )
        for merchant in merchants:
            conn.execute(
                insert(client_merchants),
                {"client_id": client_id, "merchant_id": merchant, "created_at": T0},
            )
            conn.execute(
                insert(contracts),
                {
                    "contract_id": f"C-{merchant}",
                    "merchant_id": merchant,
                    "valid_from": T0 - timedelta(days=400),
                    "default_rate_bp": DEFAULT_RATE_BP,
                    "created_at": T0,
                },
            )
            conn.execute(
                insert(contract_rules),
                [
                    {"contract_id": f"C-{merchant}", "goods_code": c, "kind": k, "value": v}
                    for c, (k, v) in RULES.items()
                ],
            )


def body_of(
    *,
    merchant: str,
    out_id: str,
    request_id: str,
    trans_date: datetime,
    amount: int | None,
    goods: Goods = (),
    origin: str | None = None,
    note: str | None = None,
) -> bytes:
    """A compact signed-ready body."""
    body: dict[str, Any] = {
        "merchantId": merchant,
        "requestId": request_id,
        "outTransId": out_id,
        "entityType": "userId",
        "entityId": "user-1",
        "transType": "transaction",
        "transDirection": "refund" if origin else "pay",
        "transDate": trans_date.isoformat().replace("+00:00", "Z"),
    }
    if origin:
        body["originTransId"] = origin
    if amount is not None:
        body["tradeAmt"] = {"currency": "HKD", "value": str(amount)}
    if goods:
        body["extendInfo"] = {
            "goodsInfoList": [
                {"goodsCode": c, "goodsPrice": {"currency": "HKD", "value": str(p)}}
                for c, p in goods
            ]
        }
    if note:
        body["storeName"] = note
    return json.dumps(body, separators=(",", ":")).encode()


def parse_body(raw: bytes, client_id: str) -> SyncCommand:
    """What the HTTP endpoint does with a raw body: parse, then normalise."""
    return to_command(parse_sync_body(raw), client_id)


@dataclass
class Ledger:
    """Drives the real use cases against one database with a controllable clock."""

    engine: Engine
    now: datetime = T0
    counter: int = 0
    policy: AcceptPolicy = field(default_factory=lambda: AcceptPolicy(zone=ZONE))
    _ingestor: Ingestor | None = None

    def send(self, raw: bytes, *, client_id: str = CLIENT) -> Outcome:
        """Sign and accept a body; raises RuleViolation on a business rejection."""
        pending = self.pending(raw, client_id=client_id)
        while True:
            answer = self.ingestor.submit(pending)
            if isinstance(answer, RuleViolation):
                raise answer
            if isinstance(answer, Outcome):
                return answer
            assert answer is Pending.DIRECTORY_MOVED
            pending = self.pending(raw, client_id=client_id)

    def pending(self, raw: bytes, *, client_id: str = CLIENT) -> PendingSync:
        """A body signed now, as the gateway hands it on (at the current directory version)."""
        request_time = self.now.isoformat()
        signature = sign(
            signing_content("POST", ENDPOINT_PATH, client_id, request_time, raw), client_key()
        )
        signed = SignedRequest(
            client_id=client_id,
            key_version=1,
            method="POST",
            path=ENDPOINT_PATH,
            request_time=request_time,
            signature=format_signature_header(signature, 1),
            headers={"client-id": client_id, "request-time": request_time},
            body=raw,
            received_at=self.now,
        )
        return PendingSync(
            command=parse_body(raw, client_id),
            request=signed,
            now=self.now,
            directory_version=self.directory.snapshot(None, fresh=True).version,
        )

    @property
    def directory(self) -> Directory:
        """The directory, read afresh for every sync (tests change it between syncs)."""
        return Directory(SqlDirectoryReader(self.engine))

    @property
    def ingestor(self) -> Ingestor:
        """The ingestion service on this database."""
        if self._ingestor is None:
            self._ingestor = Ingestor(
                ledger=SqlLedger(self.engine), directory=self.directory, policy=self.policy
            )
        return self._ingestor

    def _request_id(self) -> str:
        self.counter += 1
        return f"r-{self.counter}"

    def pay(
        self, merchant: str, out_id: str, amount: int | None, goods: Goods = (), **kw: Any
    ) -> Outcome:
        """A pay dated an hour before now."""
        return self.send(
            body_of(
                merchant=merchant,
                out_id=out_id,
                request_id=self._request_id(),
                trans_date=kw.pop("trans_date", self.now - timedelta(hours=1)),
                amount=amount,
                goods=goods,
                **kw,
            )
        )

    def refund(self, merchant: str, out_id: str, origin: str, amount: int | None) -> Outcome:
        """A refund of ``origin``."""
        return self.send(
            body_of(
                merchant=merchant,
                out_id=out_id,
                request_id=self._request_id(),
                trans_date=self.now - timedelta(minutes=30),
                amount=amount,
                origin=origin,
            )
        )

    def units(self) -> Callable[[], SqlSettlementUnitOfWork]:
        """Settlement units of work whose changes are logged under an operator at the clock."""
        actor = Actor(name="cli:test", source="cli", at=self.now)
        return lambda: SqlSettlementUnitOfWork(self.engine, actor=actor)

    def close(self, period: str, *, allow_open_month: bool = False) -> CloseReport:
        """Close a period at the ledger's clock."""
        return close_period(
            self.units(),
            period=period,
            now=self.now,
            zone=ZONE,
            allow_open_month=allow_open_month,
        )

    def assign(self, period: str) -> AssignReport:
        """Assign a period at the ledger's clock."""
        return assign_period(self.units(), period=period, now=self.now)

    def audit(self) -> AuditReport:
        """The full audit."""
        with audit_queries(self.engine) as queries:
            return audit(queries, parse_body=parse_body)
