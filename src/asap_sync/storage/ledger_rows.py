"""How ledger values are stored: content and headers as compact JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def dump_content(content: Mapping[str, Any]) -> str:
    """Compact UTF-8 JSON of normalised content, in its documented field order."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def dump_headers(headers: Mapping[str, str]) -> str:
    """The received headers as stored with the raw request."""
    return json.dumps(dict(headers), ensure_ascii=False)
