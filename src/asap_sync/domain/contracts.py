"""Contract rules an operator must respect when recording contracts."""

from __future__ import annotations

from collections.abc import Iterable

from asap_sync.domain.errors import ContractOverlap
from asap_sync.domain.model import Contract


def check_no_overlap(new: Contract, existing: Iterable[Contract]) -> None:
    """Contracts of one merchant may not overlap: ``[from, to)`` intervals must be disjoint."""
    if new.valid_to is not None and new.valid_to <= new.valid_from:
        raise ContractOverlap("valid_to must be after valid_from")
    for other in existing:
        if other.contract_id == new.contract_id or other.merchant_id != new.merchant_id:
            continue
        starts_before_other_ends = other.valid_to is None or new.valid_from < other.valid_to
        ends_after_other_starts = new.valid_to is None or other.valid_from < new.valid_to
        if starts_before_other_ends and ends_after_other_starts:
            raise ContractOverlap(
                f"contract {new.contract_id} overlaps contract {other.contract_id} of merchant "
                f"{new.merchant_id} ({other.valid_from.isoformat()} to "
                f"{other.valid_to.isoformat() if other.valid_to else 'open end'})"
            )
