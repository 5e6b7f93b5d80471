"""The app's order records by external id, with the open ones kept apart.

Why: the questions asked most often are about open orders (is one being worked, has this
workflow one, which one rests), asked after every market step, while the records of every
order ever sent only grow; a year's run asked them of a thousand orders each time. The open
ones are a small index kept in step with each record written, in the order they were first
recorded (the same order as the whole book, so a first match is the same order either way).
"""

from __future__ import annotations

from tastydesk.engine.domain.ids import ExternalOrderId
from tastydesk.engine.domain.order_fsm import OPEN_ORDER
from tastydesk.engine.domain.records import OrderRecord


class OrderRecords:
    """Every order record of the app's by external id, and the open ones."""

    def __init__(self) -> None:
        self._all: dict[ExternalOrderId, OrderRecord] = {}
        self._open: dict[ExternalOrderId, OrderRecord] = {}

    def put(self, record: OrderRecord) -> None:
        """Keep ``record`` as its order's latest (open or not, as its status says)."""
        ext = record.external_id
        self._all[ext] = record
        if record.status in OPEN_ORDER:
            self._open[ext] = record
        else:
            self._open.pop(ext, None)

    def all(self) -> list[OrderRecord]:
        """Every order, in the order first recorded."""
        return list(self._all.values())

    def open(self) -> list[OrderRecord]:
        """The open orders (sent, not yet ended), in the order they were first recorded."""
        return list(self._open.values())

    def get(self, external_id: ExternalOrderId) -> OrderRecord | None:
        return self._all.get(external_id)

    def __getitem__(self, external_id: ExternalOrderId) -> OrderRecord:
        return self._all[external_id]

    def __contains__(self, key: object) -> bool:
        return key in self._all
