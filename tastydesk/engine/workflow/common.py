"""Constants shared by the workflow engine's parts."""

from __future__ import annotations

from tastydesk.engine.domain.enums import OrderStatus, WorkflowState

OPEN_ORDER = frozenset({OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN, OrderStatus.WORKING,
                        OrderStatus.PARTIALLY_FILLED})
SEARCHING = frozenset({WorkflowState.SCANNING, WorkflowState.EVALUATING,
                       WorkflowState.PENDING_APPROVAL})
ENDED = frozenset({WorkflowState.CANCELLED, WorkflowState.ERROR})
HOLDING = frozenset({WorkflowState.MONITORING, WorkflowState.CLOSING})
UNKNOWN_LOOKUP_DELAYS = (2.0, 10.0, 30.0, 120.0)  # seconds of clock time between look-ups
CLOSE_RETRY_MINUTES = 15  # a failed closing order is retried by its rule after this pause
