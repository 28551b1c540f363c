"""The externalInfoSync handler: a verified request → its body parsed → the ingestor → an answer.

The gateway checks, directory confirmation, rejection logging and signing are the pipeline's
(:mod:`asap_sync.http.pipeline`); this handler only reads the body as business data.
"""

from __future__ import annotations

from asap_sync.domain.errors import RuleViolation
from asap_sync.http.gateway import Rejected
from asap_sync.http.pipeline import Handled, Verified
from asap_sync.service.decide import Pending, PendingSync
from asap_sync.service.ingest import Ingestor
from asap_sync.service.ports import SignedRequest
from asap_sync.service.sync_command import to_command
from asap_sync.wire import BodyError, SyncResult
from asap_sync.wire.messages import parse_sync_body


class ExternalInfoSync:
    """Implements :class:`asap_sync.http.pipeline.Handler` for ``externalInfoSync``."""

    api = "externalInfoSync"

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    async def __call__(self, verified: Verified) -> Handled | None:
        request = verified.request
        try:
            body = parse_sync_body(request.body)
        except BodyError as exc:
            raise Rejected(exc.code, exc.context) from exc
        signed = SignedRequest(
            client_id=verified.client_id,
            key_version=verified.key_version,
            method=request.method,
            path=request.path,
            request_time=request.headers["request-time"],
            signature=request.headers["signature"],
            headers=dict(request.headers),
            body=request.body,
            received_at=verified.now,
        )
        answer = await self.ingestor.enqueue(
            PendingSync(
                command=to_command(body, verified.client_id),
                request=signed,
                now=verified.now,
                directory_version=verified.directory_version,
            )
        )
        if answer is Pending.DIRECTORY_MOVED:
            return None
        # Decided on a ledger read that saw the directory at the verified version.
        if isinstance(answer, RuleViolation):
            rejected = Rejected(
                answer.code,
                answer.context,
                merchant=body.merchant_id,
                request_id=body.request_id,
                out_trans_id=body.out_trans_id,
            )
            return Handled(
                result=SyncResult.failed(answer.code, answer.context),
                confirmed=True,
                rejected=rejected,
                request_id=body.request_id,
            )
        return Handled(result=SyncResult.ok(), confirmed=True, request_id=body.request_id)
