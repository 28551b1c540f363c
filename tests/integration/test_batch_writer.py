"""Group commit: units queued together share a transaction, each under its own savepoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from asap_sync.storage.batch import BatchWriter
from asap_sync.storage.gateway import DirectoryChanged
from asap_sync.storage.tables import clients, directory_version, rejections
from tests.integration.conftest import in_one_batch
from tests.kit import T0


def add_rejection(code: str, *, fail: bool = False) -> Callable[[Any], str]:
    def work(units: Any) -> str:
        with units() as unit:
            unit.syncs.conn.execute(
                insert(rejections), {"received_at": T0, "code": code, "context": "test"}
            )
            if fail:
                raise ValueError(code)
            unit.commit()
        return code

    return work


def codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(rejections.c.code)).scalars())


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(directory_version.c.version)).scalar_one())


def run_together(writer: BatchWriter, jobs: list[tuple[int, Callable[[Any], str]]]) -> list[Any]:
    """Queue every job while the writer is busy, so that one batch takes them all."""
    return in_one_batch(writer, [partial(writer.run, expected, work) for expected, work in jobs])


def test_a_failing_unit_rolls_back_alone_and_the_others_commit_together(engine: Engine) -> None:
    writer, v = BatchWriter(engine, writers=1), version(engine)
    results = run_together(
        writer,
        [(v, add_rejection("A")), (v, add_rejection("B", fail=True)), (v, add_rejection("C"))],
    )
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError)
    assert codes(engine) == ["A", "C"]


def test_a_unit_decided_on_an_older_directory_is_refused(engine: Engine) -> None:
    writer, v = BatchWriter(engine, writers=1), version(engine)
    with engine.begin() as conn:
        conn.execute(insert(clients), {"client_id": "c", "name": "", "created_at": T0})
    assert version(engine) > v
    with pytest.raises(DirectoryChanged):
        writer.run(v, add_rejection("stale"))
    assert writer.run(version(engine), add_rejection("fresh")) == "fresh"
    assert codes(engine) == ["fresh"]


def test_when_the_commit_fails_no_unit_of_the_batch_is_answered_as_done(engine: Engine) -> None:
    writer, v = BatchWriter(engine, writers=1), version(engine)
    original = engine.dialect.do_commit

    def failing_commit(dbapi_connection: Any) -> None:
        raise RuntimeError("disk full")

    engine.dialect.do_commit = failing_commit  # type: ignore[method-assign]
    try:
        results = run_together(writer, [(v, add_rejection("A")), (v, add_rejection("B"))])
    finally:
        engine.dialect.do_commit = original  # type: ignore[method-assign]
    assert all(isinstance(r, RuntimeError) for r in results)
    assert codes(engine) == []
    assert writer.run(v, add_rejection("C")) == "C"  # the writer and its pool still work
