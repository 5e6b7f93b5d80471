from __future__ import annotations

from tastydesk.engine.domain.enums import CommandOutcome, StreamHealth
from tastydesk.engine.domain.events import FillReceived, OrderUpdated


async def test_connect_place_fill(tt_harness):
    h = tt_harness
    assert h.broker.health() == {"market": StreamHealth.CONNECTED,
                                 "account": StreamHealth.CONNECTED}
    req = h.spread()
    dry = await h.broker.dry_run(req)
    assert dry.ok and dry.buying_power_effect < 0 and dry.fees > 0
    res = await h.broker.place(req)
    assert res.outcome is CommandOutcome.ACCEPTED, res
    await h.make_fill(res.order.order_id)
    assert h.recorder.of(FillReceived)
    assert h.recorder.of(OrderUpdated)[-1].order.status.value == "FILLED"
