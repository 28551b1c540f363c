"""The results file of a bulk send: one JSON line per input row, and resume from it.

A line is ``{"line", "requestId", "outTransId", "code", "context", "attempts"}``. On start
the file is compacted to its successes (atomically), so a re-run skips them and re-sends the
rest under the same requestIds; every new line is flushed as soon as it is known, so an
interrupted run (Ctrl-C, kill, crash) loses nothing it learnt.
"""

from __future__ import annotations

import json
import os
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

SUCCESS = "SUCCESS"


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What happened to one input row."""

    line: int
    request_id: str | None
    out_trans_id: str | None
    code: str
    context: str | None = None
    attempts: int = 0

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        wire_names = {"request_id": "requestId", "out_trans_id": "outTransId"}
        return json.dumps({wire_names.get(k, k): v for k, v in data.items()}, ensure_ascii=False)


class SuccessIndex:
    """Which lines already succeeded, and under which requestId: 4 bytes per line."""

    def __init__(self) -> None:
        self._marks = array("I")

    @staticmethod
    def _mark(request_id: str) -> int:
        return zlib.crc32(request_id.encode()) or 1

    def add(self, line: int, request_id: str) -> None:
        if line >= len(self._marks):
            self._marks.extend([0] * (line + 1 - len(self._marks)))
        self._marks[line] = self._mark(request_id)

    def succeeded(self, line: int, request_id: str | None) -> bool:
        """True when this line succeeded before under this same requestId."""
        if request_id is None or line >= len(self._marks):
            return False
        return self._marks[line] == self._mark(request_id)

    def marks(self, lines: Iterable[int]) -> dict[int, int]:
        """The marks of those of ``lines`` that succeeded: a small picklable excerpt."""
        size = len(self._marks)
        return {line: self._marks[line] for line in lines if line < size and self._marks[line]}

    @classmethod
    def succeeded_in(cls, marks: dict[int, int], line: int, request_id: str | None) -> bool:
        """:meth:`succeeded` over an excerpt made by :meth:`marks`."""
        return request_id is not None and marks.get(line) == cls._mark(request_id)

    def __len__(self) -> int:
        return sum(1 for mark in self._marks if mark)


class ResultsFile:
    """Appends outcomes, one flushed line each; ``open()`` compacts and returns the index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def open(self) -> SuccessIndex:
        """Keep only the successes of earlier runs, then append after them."""
        index = SuccessIndex()
        if self.path.exists():
            self._compact(index)
        self._handle = self.path.open("a", encoding="utf-8")
        return index

    def _compact(self, index: SuccessIndex) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self.path.open(encoding="utf-8") as old, tmp.open("w", encoding="utf-8") as new:
            for text in old:
                record = _success_record(text)
                if record is None or index.succeeded(record[0], record[1]):
                    continue
                index.add(*record)
                new.write(text if text.endswith("\n") else text + "\n")
            new.flush()
            os.fsync(new.fileno())
        os.replace(tmp, self.path)

    def write(self, outcome: Outcome) -> None:
        if self._handle is None:
            raise RuntimeError("results file is not open")
        self._handle.write(outcome.to_json() + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None


def _success_record(text: str) -> tuple[int, str] | None:
    """(line, requestId) of a success line; None for anything else, a torn last line included."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("code") != SUCCESS:
        return None
    line, request_id = data.get("line"), data.get("requestId")
    if isinstance(line, int) and line >= 0 and isinstance(request_id, str):
        return line, request_id
    return None
