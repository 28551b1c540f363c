"""How ledger values are stored: content and headers as compact JSON text.

orjson writes them (a few times faster than :mod:`json`, byte for byte the same compact UTF-8
text); a value it refuses (an integer past 64 bits in ``extendInfo``) is written by :mod:`json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson


def compact_json(value: Any) -> str:
    """Compact UTF-8 JSON text (no spaces, nothing escaped that need not be)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dump_content(content: Mapping[str, Any]) -> str:
    """Compact UTF-8 JSON of normalised content, in its documented field order."""
    return compact_json(content)


def dump_headers(headers: Mapping[str, str]) -> str:
    """The received headers as stored with the raw request."""
    return compact_json(dict(headers))
