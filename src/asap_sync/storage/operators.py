"""The SQL of operator accounts, the activity log and audit runs (one connection per unit)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import (
    AuditRun,
    Change,
    ChangeFilter,
    LoggedChange,
    OperatorRecord,
    Role,
)
from asap_sync.storage.activity import from_json
from asap_sync.storage.tables import activity_log, audit_runs, operators
from asap_sync.storage.unit_of_work import ConnectionUnit


class SqlOperatorRepository:
    """Implements :class:`asap_sync.service.operator_ports.OperatorRepository`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> tuple[OperatorRecord, str] | None:
        row = self.conn.execute(select(operators).where(operators.c.name == name)).first()
        return None if row is None else (_operator(row), row.password_hash)

    def add(self, record: OperatorRecord, password_hash: str) -> None:
        self.conn.execute(
            insert(operators).values(
                name=record.name,
                role=record.role.value,
                password_hash=password_hash,
                status=record.status,
                session_epoch=record.session_epoch,
                created_at=record.created_at,
                updated_at=record.updated_at,
            )
        )

    def update(
        self,
        name: str,
        *,
        now: datetime,
        status: str | None = None,
        password_hash: str | None = None,
        bump_epoch: bool = False,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if status is not None:
            values["status"] = status
        if password_hash is not None:
            values["password_hash"] = password_hash
        if bump_epoch:
            values["session_epoch"] = operators.c.session_epoch + 1
        self.conn.execute(update(operators).where(operators.c.name == name).values(**values))

    def list(self) -> Sequence[OperatorRecord]:
        rows = self.conn.execute(select(operators).order_by(operators.c.name))
        return [_operator(row) for row in rows]

    def changes(self, which: ChangeFilter) -> Sequence[LoggedChange]:
        query = select(activity_log).order_by(activity_log.c.activity_id.desc())
        if which.actor is not None:
            query = query.where(activity_log.c.actor == which.actor)
        if which.action is not None:
            query = query.where(activity_log.c.action == which.action)
        if which.before_id is not None:
            query = query.where(activity_log.c.activity_id < which.before_id)
        return [_logged(row) for row in self.conn.execute(query.limit(which.limit))]

    def add_audit_run(self, run: AuditRun) -> int:
        result = self.conn.execute(
            insert(audit_runs)
            .values(
                started_at=run.started_at,
                finished_at=run.finished_at,
                actor=run.actor,
                ok=1 if run.ok else 0,
                violation_count=run.violation_count,
                transactions=run.transactions,
                statements=run.statements,
                report=json.dumps(run.report, ensure_ascii=False),
            )
            .returning(audit_runs.c.audit_run_id)
        )
        return int(result.scalar_one())

    def audit_runs(self, limit: int) -> Sequence[AuditRun]:
        query = select(audit_runs).order_by(audit_runs.c.audit_run_id.desc()).limit(limit)
        return [_audit_run(row) for row in self.conn.execute(query)]

    def audit_run(self, audit_run_id: int) -> AuditRun | None:
        query = select(audit_runs).where(audit_runs.c.audit_run_id == audit_run_id)
        row = self.conn.execute(query).first()
        return None if row is None else _audit_run(row)


def _operator(row: Any) -> OperatorRecord:
    return OperatorRecord(
        name=row.name,
        role=Role(row.role),
        status=row.status,
        session_epoch=row.session_epoch,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _logged(row: Any) -> LoggedChange:
    return LoggedChange(
        activity_id=row.activity_id,
        change=Change(
            at=row.at,
            actor=row.actor,
            source=row.source,
            action=row.action,
            subject=row.subject,
            before=from_json(row.before),
            after=from_json(row.after),
        ),
    )


def _audit_run(row: Any) -> AuditRun:
    return AuditRun(
        audit_run_id=row.audit_run_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        actor=row.actor,
        ok=bool(row.ok),
        violation_count=row.violation_count,
        transactions=row.transactions,
        statements=row.statements,
        report=json.loads(row.report),
    )


class SqlOperatorUnitOfWork(ConnectionUnit):
    """Implements :class:`asap_sync.service.operator_ports.OperatorUnitOfWork`."""

    operators: SqlOperatorRepository

    def _opened(self, conn: Connection) -> None:
        self.operators = SqlOperatorRepository(conn)


class SqlOperatorSessions:
    """Implements :class:`asap_sync.service.operator_ports.OperatorSessions` on an engine."""

    def __init__(self, engine: Engine, *, actor: Actor | None = None) -> None:
        self._engine, self.actor = engine, actor

    def __call__(self, *, read_only: bool = False) -> SqlOperatorUnitOfWork:
        return SqlOperatorUnitOfWork(self._engine, read_only=read_only, actor=self.actor)

    def acting(self, actor: Actor) -> SqlOperatorSessions:
        return SqlOperatorSessions(self._engine, actor=actor)
