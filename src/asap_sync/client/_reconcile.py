"""Reconciliation: the merchant's own transactions against the platform's export.

Entries are keyed by (outTransId, direction). The platform side is held in memory; the
merchant file is streamed against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from asap_sync.client._ledger import (
    TRANSACTIONS,
    BadLine,
    ColumnMapping,
    Entry,
    read_entries,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Difference:
    """A transaction both sides know, with a field that disagrees."""

    out_trans_id: str
    direction: str
    field: str
    merchant: str | int | None
    platform: str | int | None
    merchant_line: int
    platform_line: int

    def describe(self) -> str:
        return (
            f"{self.out_trans_id} {self.direction}: {self.field} yours={self.merchant} "
            f"platform={self.platform} (lines {self.merchant_line}/{self.platform_line})"
        )


@dataclass(kw_only=True)
class ReconcileReport:
    """Matched count, what is missing on each side, differences, unreadable lines."""

    matched: int = 0
    missing_on_platform: list[Entry] = field(default_factory=list)
    missing_in_merchant_file: list[Entry] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when both sides agree entirely."""
        return not (
            self.missing_on_platform
            or self.missing_in_merchant_file
            or self.differences
            or self.duplicates
            or self.unreadable
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "matched": self.matched,
            "missingOnPlatform": [asdict(e) for e in self.missing_on_platform],
            "missingInMerchantFile": [asdict(e) for e in self.missing_in_merchant_file],
            "differences": [asdict(d) for d in self.differences],
            "duplicates": self.duplicates,
            "unreadable": self.unreadable,
        }


def reconcile(
    merchant_file: Path,
    platform_file: Path,
    *,
    merchant_mapping: ColumnMapping = TRANSACTIONS,
    platform_mapping: ColumnMapping = TRANSACTIONS,
) -> ReconcileReport:
    """Compare the two files; see :class:`ReconcileReport`."""
    report = ReconcileReport()
    platform = _load(platform_file, platform_mapping, report, "platform")
    seen: set[tuple[str, str]] = set()
    for item in read_entries(merchant_file, merchant_mapping):
        if isinstance(item, BadLine):
            report.unreadable.append(f"merchant:{item.line}: {item.reason}")
        elif item.key in seen:
            report.duplicates.append(f"merchant:{item.line}: {item.out_trans_id} {item.direction}")
        else:
            seen.add(item.key)
            _match(item, platform.pop(item.key, None), report)
    report.missing_in_merchant_file.extend(sorted(platform.values(), key=lambda e: e.line))
    return report


def _load(
    path: Path, mapping: ColumnMapping, report: ReconcileReport, side: str
) -> dict[tuple[str, str], Entry]:
    entries: dict[tuple[str, str], Entry] = {}
    for item in read_entries(path, mapping):
        if isinstance(item, BadLine):
            report.unreadable.append(f"{side}:{item.line}: {item.reason}")
            continue
        earlier = entries.get(item.key)
        if earlier is None:
            entries[item.key] = item
        elif mapping.duplicates == "sum":
            entries[item.key] = _combined(earlier, item)
        elif mapping.duplicates == "same" and earlier.amount_minor == item.amount_minor:
            continue
        else:
            report.duplicates.append(f"{side}:{item.line}: {item.out_trans_id} {item.direction}")
    return entries


def _combined(earlier: Entry, later: Entry) -> Entry:
    if earlier.amount_minor is None or later.amount_minor is None:
        total = earlier.amount_minor if later.amount_minor is None else later.amount_minor
    else:
        total = earlier.amount_minor + later.amount_minor
    return Entry(
        out_trans_id=earlier.out_trans_id,
        direction=earlier.direction,
        amount_minor=total,
        status=earlier.status,
        merchant_id=earlier.merchant_id,
        line=earlier.line,
    )


def _match(mine: Entry, theirs: Entry | None, report: ReconcileReport) -> None:
    if theirs is None:
        report.missing_on_platform.append(mine)
        return
    differences = [
        Difference(
            out_trans_id=mine.out_trans_id,
            direction=mine.direction,
            field=name,
            merchant=ours,
            platform=other,
            merchant_line=mine.line,
            platform_line=theirs.line,
        )
        for name, ours, other in (
            ("amount_minor", mine.amount_minor, theirs.amount_minor),
            ("merchant_id", mine.merchant_id, theirs.merchant_id),
        )
        if ours != other and not (name == "merchant_id" and (ours is None or other is None))
    ]
    report.differences.extend(differences)
    if not differences:
        report.matched += 1
