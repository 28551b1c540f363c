"""The ports the use cases need; storage/ implements them, tests may fake them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, Self, TypeVar

from asap_sync.domain.model import Contract, LineDraft, StoredLine, Transaction

T = TypeVar("T")


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
class NewTransaction:
    """What the accept use case writes for a new transaction."""

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
    accepted_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedCreate:
    """A new transaction's writes, planned before its unit of work runs.

    They hold only while neither the binding nor a transaction with the same
    (merchantId, outTransId) exists: a store applies them only after checking both in the
    statement that writes them, and otherwise writes nothing.
    """

    request: SignedRequest
    binding: Binding
    transaction: NewTransaction
    lines: Sequence[LineDraft]


@dataclass(frozen=True, kw_only=True, slots=True)
class FastPath(Generic[T]):
    """A shortcut a writer may take instead of running the use case's work.

    ``plan(contracts)`` returns the writes of the common case (or None when the case is not the
    common one); a writer that applies them returns ``value`` without running the work. The
    contracts it reads must be those of the directory version the caller decided with; the
    writer applies the plan only while that version stands. Whenever the plan is None, raises,
    or its preconditions do not hold in the database, the work runs as usual, so the shortcut
    never changes an outcome.
    """

    plan: Callable[[MerchantContracts], PlannedCreate | None]
    value: T


class MerchantContracts(Protocol):
    """A merchant's contracts as a client sees them."""

    def merchant_contracts(self, client_id: str, merchant_id: str) -> Sequence[Contract] | None:
        """The merchant's contracts, or None when the client is not linked to it."""
        ...


class SyncRepository(MerchantContracts, Protocol):
    """What accepting a sync reads and writes, inside one database transaction."""

    def add_raw_request(self, request: SignedRequest) -> int: ...

    def bind(self, binding: Binding, raw_request_id: int, now: datetime) -> bool: ...

    def get_binding(self, client_id: str, request_id: str) -> Binding | None: ...

    def linked_merchant_has(self, client_id: str, out_trans_id: str, but_not: str) -> bool: ...

    def get_transaction(self, merchant_id: str, out_trans_id: str) -> Transaction | None: ...

    def refunds_of(self, origin_id: int) -> Sequence[Transaction]: ...

    def active_lines(self, transaction_id: int) -> Sequence[StoredLine]: ...

    def reversed_by_line(self, origin_id: int) -> Mapping[int, int]: ...

    def insert_transaction(self, new: NewTransaction, raw_request_id: int) -> int | None: ...

    def update_transaction(
        self,
        transaction_id: int,
        content: Mapping[str, Any],
        amount_minor: int,
        raw_request_id: int,
        now: datetime,
    ) -> None: ...

    def add_lines(self, transaction_id: int, lines: Sequence[LineDraft], now: datetime) -> None: ...

    def supersede_lines(self, transaction_id: int, now: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction: rolled back on exit unless committed."""

    @property
    def syncs(self) -> SyncRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...


class Writer(Protocol):
    """Runs a use case's work with unit-of-work factories, on one directory version.

    ``expected_version`` is the version of clients and keys the caller decided with: a unit
    refuses to start when the directory has moved since (``DirectoryChanged``). A writer may
    take the ``fast`` path instead of running ``work`` (see :class:`FastPath`), or ignore it.
    """

    def run(
        self,
        expected_version: int | None,
        work: Callable[[Callable[[], UnitOfWork]], T],
        *,
        fast: FastPath[T] | None = None,
    ) -> T: ...
