"""Idempotency by (Client-Id, requestId): only successes bind; content decides the answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asap_sync.domain.errors import IdempotencyConflict


def differing_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Paths of the leaves that differ between two normalised contents, in a stable order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths: list[str] = []
        for key in sorted(set(old) | set(new), key=_field_order(old, new)):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                paths.append(where)
            else:
                paths.extend(differing_fields(old[key], new[key], where))
        return paths
    if isinstance(old, list) and isinstance(new, list):
        paths = []
        for i in range(max(len(old), len(new))):
            where = f"{prefix}[{i}]"
            if i >= len(old) or i >= len(new):
                paths.append(where)
            else:
                paths.extend(differing_fields(old[i], new[i], where))
        return paths
    return [] if old == new else [prefix]


def _field_order(old: Mapping[str, Any], new: Mapping[str, Any]) -> Any:
    order = {key: i for i, key in enumerate([*old, *[k for k in new if k not in old]])}
    return lambda key: order[key]


def check_replay(bound_content: Mapping[str, Any], new_content: Mapping[str, Any]) -> None:
    """A bound key answers its stored success again only for the same content."""
    fields = differing_fields(bound_content, new_content)
    if fields:
        raise IdempotencyConflict(
            "requestId already succeeded with different content; differing fields: "
            + ", ".join(fields)
        )
