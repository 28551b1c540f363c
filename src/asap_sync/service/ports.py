"""The ports of ingestion: what a batch of syncs reads from the ledger, the plan it writes back,
and the directory it is decided with. storage/ implements them; tests/fakes.py fakes them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from asap_sync.domain.model import Contract, LineDraft, StoredLine, Transaction

TransactionKey = tuple[str, str]  # (merchant_id, out_trans_id)
BindingKey = tuple[str, str]  # (client_id, request_id)
LinkKey = tuple[str, str]  # (client_id, merchant_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedRequest:
    """The request exactly as received, kept so any commission line can be proven later."""

    client_id: str
    key_version: int
    method: str
    path: str
    request_time: str
    signature: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Binding:
    """A (Client-Id, requestId) bound by a success, with the content it succeeded with."""

    client_id: str
    request_id: str
    merchant_id: str
    out_trans_id: str
    content: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredTransaction:
    """A transaction as the ledger holds it, with what deciding a sync of it needs."""

    transaction: Transaction
    revision: int
    lines: tuple[StoredLine, ...] = ()  # its active lines, by line_no
    refunds: tuple[Transaction, ...] = ()  # a pay's refunds, by transaction_id
    reversed_by_line: Mapping[int, int] = field(default_factory=dict)  # a pay's, positive e4


@dataclass(frozen=True, kw_only=True, slots=True)
class LedgerKeys:
    """Everything a batch reads, by key."""

    bindings: frozenset[BindingKey]
    transactions: frozenset[TransactionKey]  # the syncs' own and their origins
    origins: frozenset[tuple[str, str]]  # (client_id, originTransId) of the refunds


@dataclass(frozen=True, kw_only=True, slots=True)
class LedgerView:
    """What the ledger held for a batch's keys, read at one moment with the directory version."""

    directory_version: int | None
    bindings: Mapping[BindingKey, Binding]
    transactions: Mapping[TransactionKey, StoredTransaction]
    # The merchants (linked to the client) holding a pay with that outTransId.
    origin_merchants: Mapping[tuple[str, str], frozenset[str]]


@dataclass(frozen=True, kw_only=True, slots=True)
class NewTransaction:
    """A transaction to insert; its id comes from the database."""

    merchant_id: str
    out_trans_id: str
    client_id: str
    direction: str
    origin_id: int | None
    sub_merchant_id: str | None
    store_id: str | None
    trans_date: datetime
    amount_minor: int
    contract_id: str | None
    period: str
    content: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class Guard:
    """An existing transaction that must still be at ``revision`` and ``status``; its revision
    is bumped, and with ``content`` it is updated too (a goods update)."""

    transaction_id: int
    revision: int
    status: str
    content: Mapping[str, Any] | None = None
    amount_minor: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LineWrite:
    """A commission line to insert: on an existing transaction, or (``transaction_id`` None)
    on the one the sync creates. ``reverses_new_line`` names, by line_no, a line inserted by the
    same sync on the guarded transaction (the reversals recomputed by a goods update)."""

    transaction_id: int | None
    draft: LineDraft
    reverses_new_line: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncWrites:
    """Everything one accepted sync writes, all or nothing, under its preconditions: the
    directory still at the plan's version, the binding absent, the created transaction absent,
    the guarded transaction unchanged."""

    sync: int  # its position in the batch
    request: SignedRequest
    binding: Binding
    at: datetime
    create: NewTransaction | None = None
    guard: Guard | None = None
    supersede: tuple[int, ...] = ()  # transactions whose active lines are superseded
    lines: tuple[LineWrite, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class WritePlan:
    """The writes of a batch, decided at one directory version."""

    directory_version: int | None
    syncs: tuple[SyncWrites, ...]


class Ledger(Protocol):
    """The transaction ledger, read and written a batch at a time."""

    def read(self, keys: LedgerKeys) -> LedgerView:
        """Everything the keys name, and the directory version, at one moment."""
        ...

    def apply(self, plan: WritePlan) -> frozenset[int]:
        """Write, in one transaction, every sync of the plan whose preconditions hold; commit;
        return the syncs (by position) that were not written. Raises when nothing could be
        committed (then no sync of the plan is written)."""
        ...


class MerchantContracts(Protocol):
    """The merchants' links and contracts at a directory version."""

    def contracts_at(
        self, version: int | None, links: Iterable[LinkKey]
    ) -> Mapping[LinkKey, Sequence[Contract] | None] | None:
        """Each link's contracts (None: the client is not linked to the merchant), or None
        when the directory is no longer at ``version``."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """A rejected request as the operator sees it."""

    received_at: datetime
    code: str
    context: str
    client_id: str | None = None
    merchant_id: str | None = None
    request_id: str | None = None
    out_trans_id: str | None = None
    source: str | None = None  # the caller's address


class RejectionSink(Protocol):
    """Where rejected requests are kept for the operator."""

    def record(self, rejection: Rejection) -> None: ...
