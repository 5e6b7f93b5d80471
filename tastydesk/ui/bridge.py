"""EngineBridge: engine bus events in, typed Qt signals out, with market-rate changes coalesced.

The bus is synchronous on the loop thread, which under qasync is also the GUI thread, so discrete
events (workflow changes, alerts, fills) are re-emitted at once. Quotes and greeks can arrive
thousands of times a second; they only mark the market as changed, and a 5 Hz timer then emits
one ``market_changed`` (and the latest portfolio risk and connection state per stream), so views
pull one fresh snapshot per flush instead of repainting per tick.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from tastydesk.engine.bus import Subscription
from tastydesk.engine.config import ConfigChange
from tastydesk.engine.domain.events import (
    Alert,
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    GreeksReceived,
    OrderUpdated,
    PortfolioRiskChanged,
    PositionUpdated,
    QuoteReceived,
    RuleTriggered,
    StreamGap,
    WorkflowChanged,
)
from tastydesk.engine.facade import EngineFacade

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 200


class EngineBridge(QObject):
    # ---- Signals (discrete events, emitted synchronously)
    workflow_changed = Signal(object)  # WorkflowChanged
    alert_raised = Signal(object)  # Alert
    rule_triggered = Signal(object)  # RuleTriggered
    order_updated = Signal(object)  # OrderUpdated
    fill_received = Signal(object)  # FillReceived
    config_changed = Signal(object)  # ConfigChange
    stream_gap = Signal(object)  # StreamGap
    # ---- Signals (coalesced, emitted by the flush timer)
    market_changed = Signal()  # quotes/greeks/positions/balance moved since the last flush
    portfolio_changed = Signal(object)  # latest PortfolioRiskChanged
    connection_changed = Signal(object)  # latest ConnectionChanged per stream
    ticked = Signal()  # every flush: time-based displays (ages, clock) refresh

    def __init__(self, engine: EngineFacade, parent: QObject | None = None,
                 interval_ms: int = FLUSH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._engine = engine
        self._market_dirty = False
        self._portfolio: PortfolioRiskChanged | None = None
        self._connections: dict[str, ConnectionChanged] = {}
        self._event_count = 0
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=10)
        self.events_per_s = 0.0
        bus = engine.bus
        self._subs: list[Subscription] = [
            bus.subscribe(QuoteReceived, self._on_market),
            bus.subscribe(GreeksReceived, self._on_market),
            bus.subscribe(PositionUpdated, self._on_market),
            bus.subscribe(BalanceUpdated, self._on_market),
            bus.subscribe(PortfolioRiskChanged, self._on_portfolio),
            bus.subscribe(ConnectionChanged, self._on_connection),
            bus.subscribe(WorkflowChanged, self._relay(self.workflow_changed)),
            bus.subscribe(Alert, self._relay(self.alert_raised)),
            bus.subscribe(RuleTriggered, self._relay(self.rule_triggered)),
            bus.subscribe(OrderUpdated, self._relay(self.order_updated)),
            bus.subscribe(FillReceived, self._relay(self.fill_received)),
            bus.subscribe(ConfigChange, self._relay(self.config_changed)),
            bus.subscribe(StreamGap, self._relay(self.stream_gap)),
        ]
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # ---- Public API
    @property
    def engine(self) -> EngineFacade:
        return self._engine

    @property
    def active(self) -> bool:
        return bool(self._subs)

    def flush(self) -> None:
        """Emit the coalesced signals now (also called by the timer)."""
        now = time.monotonic()
        self._rate_window.append((now, self._event_count))
        first_t, first_n = self._rate_window[0]
        if now > first_t:
            self.events_per_s = (self._event_count - first_n) / (now - first_t)
        if self._connections:
            connections, self._connections = self._connections, {}
            for event in connections.values():
                self.connection_changed.emit(event)
        if self._portfolio is not None:
            portfolio, self._portfolio = self._portfolio, None
            self.portfolio_changed.emit(portfolio)
        if self._market_dirty:
            self._market_dirty = False
            self.market_changed.emit()
        self.ticked.emit()

    def dispose(self) -> None:
        """Stop listening to the engine; safe to call twice."""
        self._timer.stop()
        for sub in self._subs:
            sub.dispose()
        self._subs = []

    # ---- Bus handlers (hot path: keep them tiny)
    def _on_market(self, _event: Any) -> None:
        self._event_count += 1
        self._market_dirty = True

    def _on_portfolio(self, event: PortfolioRiskChanged) -> None:
        self._event_count += 1
        self._portfolio = event

    def _on_connection(self, event: ConnectionChanged) -> None:
        self._event_count += 1
        self._connections[event.stream] = event

    def _relay(self, signal: Any) -> Any:
        def handler(event: object) -> None:
            self._event_count += 1
            signal.emit(event)

        return handler
