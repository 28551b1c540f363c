"""From the wire model to the domain command: the one place the two meet."""

from __future__ import annotations

from datetime import UTC

from asap_sync.domain.model import Goods, SyncCommand
from asap_sync.wire.messages import SyncRequest, parse_trans_date

FIELD_ORDER = tuple(f.alias or name for name, f in SyncRequest.model_fields.items())


def to_command(body: SyncRequest, client_id: str) -> SyncCommand:
    """Normalise a parsed body: defaults applied and ``transDate`` as a UTC instant, so that
    equal meaning compares equal whatever the formatting."""
    trans_date = parse_trans_date(body.trans_date)
    values = body.canonical()
    values["transDirection"] = body.direction
    values["transStatus"] = "SUCCESS"
    values["transDate"] = trans_date.astimezone(UTC).isoformat()
    # Keep the documented field order, so that differences are listed the way a merchant reads.
    content = {name: values[name] for name in FIELD_ORDER if name in values}
    return SyncCommand(
        client_id=client_id,
        request_id=body.request_id,
        merchant_id=body.merchant_id,
        out_trans_id=body.out_trans_id,
        direction=body.direction,
        trans_date=trans_date,
        sub_merchant_id=body.sub_merchant_id,
        store_id=body.store_id,
        origin_trans_id=body.origin_trans_id,
        trade_amount_minor=None if body.trade_amt is None else body.trade_amt.minor,
        goods=tuple(
            Goods(
                code=g.goods_code,
                price_minor=g.goods_price.minor,
                goods_id=g.goods_id,
                name=g.goods_name,
            )
            for g in body.goods
        ),
        content=content,
    )
