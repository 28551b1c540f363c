"""The SQL of server settings and proposals (on the connection of the caller's unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from asap_sync.service.approval_ports import PENDING, Proposal
from asap_sync.service.journal import Actor
from asap_sync.storage.activity import SUBJECT_LENGTH, from_json, to_json
from asap_sync.storage.tables import proposals, server_settings


class SqlApprovalRepository:
    """Implements :class:`asap_sync.service.approval_ports.ApprovalRepository`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def setting(self, name: str) -> str | None:
        query = select(server_settings.c.value).where(server_settings.c.name == name)
        value = self.conn.execute(query).scalar_one_or_none()
        return None if value is None else str(value)

    def set_setting(self, name: str, value: str, *, actor: Actor) -> None:
        values = {"value": value, "updated_at": actor.at, "updated_by": actor.name}
        changed = self.conn.execute(
            update(server_settings).where(server_settings.c.name == name).values(**values)
        )
        if changed.rowcount == 0:
            self.conn.execute(insert(server_settings).values(name=name, **values))

    def add_proposal(
        self, action: str, subject: str, payload: dict[str, Any], *, actor: Actor
    ) -> int:
        result = self.conn.execute(
            insert(proposals)
            .values(
                action=action,
                subject=subject[:SUBJECT_LENGTH],
                payload=to_json(payload),
                status=PENDING,
                proposed_by=actor.name,
                proposed_source=actor.source,
                proposed_at=actor.at,
            )
            .returning(proposals.c.proposal_id)
        )
        return int(result.scalar_one())

    def proposal(self, proposal_id: int, *, for_update: bool = False) -> Proposal | None:
        query = select(proposals).where(proposals.c.proposal_id == proposal_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _proposal(row)

    def proposals(self, *, status: str | None, limit: int) -> Sequence[Proposal]:
        query = select(proposals).order_by(proposals.c.proposal_id.desc()).limit(limit)
        if status is not None:
            query = query.where(proposals.c.status == status)
        return [_proposal(row) for row in self.conn.execute(query)]

    def decide(self, proposal_id: int, status: str, *, actor: Actor, note: str | None) -> None:
        self.conn.execute(
            update(proposals)
            .where(proposals.c.proposal_id == proposal_id)
            .values(
                status=status,
                decided_by=actor.name,
                decided_source=actor.source,
                decided_at=actor.at,
                note=note,
            )
        )


def _proposal(row: Any) -> Proposal:
    return Proposal(
        proposal_id=row.proposal_id,
        action=row.action,
        subject=row.subject,
        payload=from_json(row.payload) or {},
        status=row.status,
        proposed_by=row.proposed_by,
        proposed_source=row.proposed_source,
        proposed_at=row.proposed_at,
        decided_by=row.decided_by,
        decided_source=row.decided_source,
        decided_at=row.decided_at,
        note=row.note,
    )
