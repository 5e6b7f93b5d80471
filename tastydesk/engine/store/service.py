"""The synchronous store: one short transaction per call, plain records in and out.

:class:`Store` is a thin composition over repositories by concern (workflows, proposals, orders,
positions, journal, logs, settings, checks) that share one :class:`Database`; each method only
delegates. The workflow hot path (create, transition, group commit) runs plain SQL derived from
the ORM tables on one connection reserved for it; the rest goes through the typed ORM.

Log readers (transitions, decisions, audit, errors) return rows oldest first; ``limit`` keeps the
most recent ones.

Code running on the event loop uses :class:`AsyncStore` (same methods, awaited); with the loop
guard on (:mod:`tastydesk.engine.store.guard`) a synchronous call there raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.enums import (
    Actor,
    Decision,
    ErrorCategory,
    OrderPurpose,
    OrderStatus,
    ProposalStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.lifecycle import LifecycleBooking, LifecycleEvent
from tastydesk.engine.domain.orders import Fill, OrderRequest
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    FillRecord,
    JournalRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    ProposalRecord,
    RuleActionRecord,
    TransitionRecord,
    TransitionRequest,
    WorkflowRecord,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.workflow_fsm import InvalidTransition
from tastydesk.engine.store.async_store import AsyncStore
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.repositories import Repositories

DEFAULTS_INSTALLED_KEY = "strategies.defaults_installed"


class Store:
    """Synchronous repository over one SQLite file. Thread-safe; writes are serialised.

    ``repositories`` is the route :class:`AsyncStore` takes (past the loop guard); everything
    else calls the methods below.
    """

    def __init__(self, path: Path, synchronous: str = "FULL", read_only: bool = False) -> None:
        self.path = Path(path)
        self.repositories = Repositories.on(Database(self.path, synchronous, read_only))
        config = self.repositories.config
        if not read_only and not config.get_config(DEFAULTS_INSTALLED_KEY, False):
            self.repositories.strategies.restore_default_strategies()
            config.set_config(DEFAULTS_INSTALLED_KEY, True)

    @classmethod
    def open(cls, path: Path, synchronous: str = "FULL", read_only: bool = False) -> Store:
        """``read_only``: look at an existing file without writing, creating or migrating it
        (see :func:`~tastydesk.engine.store.database.open_read_only`)."""
        return cls(path, synchronous, read_only)

    def close(self) -> None:
        self.repositories.database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- strategies -----------------------------------------------------------------------------

    def list_strategies(self) -> list[Strategy]:
        LOOP_GUARD.check()
        return self.repositories.strategies.list_strategies()

    def get_strategy(self, name: str) -> Strategy | None:
        LOOP_GUARD.check()
        return self.repositories.strategies.get_strategy(name)

    def save_strategy(self, strategy: Strategy) -> None:
        """Validates first: a strategy that would not load back is never stored."""
        LOOP_GUARD.check()
        self.repositories.strategies.save_strategy(strategy)

    def delete_strategy(self, name: str) -> None:
        LOOP_GUARD.check()
        self.repositories.strategies.delete_strategy(name)

    def restore_default_strategies(self) -> None:
        """Put the built-in strategies back as shipped; other strategies are left alone."""
        LOOP_GUARD.check()
        self.repositories.strategies.restore_default_strategies()

    def is_builtin_strategy(self, name: str) -> bool:
        LOOP_GUARD.check()
        return self.repositories.strategies.is_builtin_strategy(name)

    # -- workflows ------------------------------------------------------------------------------

    def create_workflow(self, symbol: str, actor: Actor, reason: str, now: datetime,
                        strategy_name: str | None = None) -> WorkflowRecord:
        """A new workflow in SCANNING, with its creation as transition #1."""
        LOOP_GUARD.check()
        return self.repositories.workflows.create_workflow(symbol, actor, reason, now,
                                                           strategy_name)

    def create_workflows(self, symbols: Iterable[str], actor: Actor, reason: str,
                         now: datetime, strategy_name: str | None = None) -> list[WorkflowId]:
        """Create many workflows in one transaction (start-up from a watch list); their ids."""
        LOOP_GUARD.check()
        return self.repositories.workflows.create_workflows(symbols, actor, reason, now,
                                                            strategy_name)

    def transition(self, workflow_id: WorkflowId, trigger: Trigger, actor: Actor, reason: str,
                   now: datetime, payload: dict[str, Any] | None = None,
                   **updates: Any) -> WorkflowRecord:
        """Move a workflow by ``trigger``; the log row and the new state commit together.

        ``updates`` may set strategy_name, proposal_id, cooldown_until and error in the same
        transaction. Illegal moves raise :class:`InvalidTransition` and write nothing.
        """
        LOOP_GUARD.check()
        return self.repositories.workflows.transition(workflow_id, trigger, actor, reason, now,
                                                      payload, **updates)

    def transition_many(self, items: Sequence[TransitionRequest]) -> list[WorkflowRecord]:
        """Group commit: all transitions in one transaction, all or nothing, in order."""
        LOOP_GUARD.check()
        return self.repositories.workflows.transition_many(items)

    def get_workflow(self, workflow_id: WorkflowId) -> WorkflowRecord:
        LOOP_GUARD.check()
        return self.repositories.workflows.get_workflow(workflow_id)

    def list_workflows(self, states: Iterable[WorkflowState] | None = None,
                       symbol: str | None = None) -> list[WorkflowRecord]:
        LOOP_GUARD.check()
        return self.repositories.workflows.list_workflows(states, symbol)

    def transitions(self, workflow_id: WorkflowId | None = None,
                    limit: int | None = None) -> list[TransitionRecord]:
        LOOP_GUARD.check()
        return self.repositories.workflows.transitions(workflow_id, limit)

    def update_workflow(self, workflow_id: WorkflowId, **fields: Any) -> WorkflowRecord:
        """Change settings (rules_paused, rule_overrides, cooldown_until); never the state."""
        LOOP_GUARD.check()
        return self.repositories.workflows.update_workflow(workflow_id, **fields)

    # -- proposals and decisions ---------------------------------------------------------------

    def save_proposal(self, workflow_id: WorkflowId, proposal: TradeProposal,
                      expires_at: datetime | None) -> ProposalId:
        LOOP_GUARD.check()
        return self.repositories.proposals.save_proposal(workflow_id, proposal, expires_at)

    def get_proposal(self, proposal_id: ProposalId) -> ProposalRecord:
        LOOP_GUARD.check()
        return self.repositories.proposals.get_proposal(proposal_id)

    def set_proposal_status(self, proposal_id: ProposalId, status: ProposalStatus) -> None:
        LOOP_GUARD.check()
        self.repositories.proposals.set_proposal_status(proposal_id, status)

    def record_decision(self, proposal_id: ProposalId, decision: Decision, user: str, reason: str,
                        now: datetime, price: Decimal | None = None,
                        quantity: int | None = None) -> DecisionRecord:
        LOOP_GUARD.check()
        return self.repositories.proposals.record_decision(proposal_id, decision, user, reason,
                                                           now, price, quantity)

    def decisions(self, limit: int | None = None) -> list[DecisionRecord]:
        LOOP_GUARD.check()
        return self.repositories.proposals.decisions(limit)

    # -- orders and fills -----------------------------------------------------------------------

    def create_order_intent(self, workflow_id: WorkflowId, purpose: OrderPurpose, request: OrderRequest,
                            quantity: int, now: datetime, proposal_id: ProposalId | None = None,
                            attempt: int = 0) -> OrderRecord:
        """Persist the order before it is sent (status PENDING_SUBMIT).

        Raises :class:`DuplicateOrderIntent` when the external id, or the (proposal, purpose,
        attempt) triple, is already taken: one approval can never create two entry orders.
        """
        LOOP_GUARD.check()
        return self.repositories.orders.create_order_intent(
            workflow_id, purpose, request, quantity, now, proposal_id, attempt)

    def update_order(self, external_id: ExternalOrderId, status: OrderStatus, now: datetime,
                     broker_order_id: BrokerOrderId | None = None, price: Decimal | None = None,
                     filled_quantity: int | None = None, detail: str = "",
                     fees: Decimal | None = None, mid: Decimal | None = None,
                     natural: Decimal | None = None) -> OrderRecord:
        """Record a status change and append it to the order's event history.

        ``fees`` (the broker's figure for the whole order) is kept when given; ``mid`` and
        ``natural`` (the spread's, per unit) go with an event that records a fill.
        """
        LOOP_GUARD.check()
        return self.repositories.orders.update_order(external_id, status, now, broker_order_id,
                                                     price, filled_quantity, detail, fees,
                                                     mid, natural)

    def get_order(self, external_id: ExternalOrderId) -> OrderRecord | None:
        LOOP_GUARD.check()
        return self.repositories.orders.get_order(external_id)

    def order_by_broker_id(self, broker_order_id: BrokerOrderId) -> OrderRecord | None:
        LOOP_GUARD.check()
        return self.repositories.orders.order_by_broker_id(broker_order_id)

    def orders(self, workflow_id: WorkflowId | None = None, open_only: bool = False) -> list[OrderRecord]:
        LOOP_GUARD.check()
        return self.repositories.orders.orders(workflow_id, open_only)

    def order_events(self, external_id: ExternalOrderId) -> list[OrderEventRecord]:
        LOOP_GUARD.check()
        return self.repositories.orders.order_events(external_id)

    def order_events_by_order(self, external_ids: Iterable[ExternalOrderId] | None = None
                              ) -> dict[ExternalOrderId, list[OrderEventRecord]]:
        """Every order's event history in one read (all orders when ``external_ids`` is None).

        For figures over many orders (analytics), instead of one read per order.
        """
        LOOP_GUARD.check()
        return self.repositories.orders.order_events_by_order(external_ids)

    def add_fill(self, external_id: ExternalOrderId, fill: Fill) -> bool:
        """Store a fill once; a replayed fill (same fill_id) is ignored and returns False."""
        LOOP_GUARD.check()
        return self.repositories.orders.add_fill(external_id, fill)

    def record_fills(self, external_id: ExternalOrderId, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        """Store fills and fold each new one into its workflow's position, in ONE transaction.

        A crash can therefore never leave a fill recorded but its position unchanged (after a
        restart the fill would be skipped as a duplicate and the position would stay wrong).
        Returns the fills that were new.
        """
        LOOP_GUARD.check()
        return self.repositories.orders.record_fills(external_id, fills, now)

    def fills(self, workflow_id: WorkflowId | None = None) -> list[FillRecord]:
        LOOP_GUARD.check()
        return self.repositories.orders.fills(workflow_id)

    # -- positions ------------------------------------------------------------------------------

    def apply_position_fill(self, workflow_id: WorkflowId, symbol: str, signed_quantity: int,
                            price: Decimal, now: datetime) -> PositionRecord:
        """Fold one leg fill into the workflow's position in that symbol.

        Adding to a position averages the open price; reducing it realises
        ``(exit - open) x quantity x 100`` (sign-adjusted for shorts); crossing through zero
        closes the old row and opens a new one at the fill price.
        """
        LOOP_GUARD.check()
        return self.repositories.positions.apply_position_fill(workflow_id, symbol,
                                                               signed_quantity, price, now)

    def positions(self, workflow_id: WorkflowId | None = None,
                  open_only: bool = True) -> list[PositionRecord]:
        LOOP_GUARD.check()
        return self.repositories.positions.positions(workflow_id, open_only)

    # -- journal, rule actions, metrics ---------------------------------------------------------

    def add_journal(self, workflow_id: WorkflowId, strategy: str, symbol: str, entry_price: Decimal,
                    exit_price: Decimal, fees: Decimal, realised_pnl: Decimal,
                    opened_at: datetime, closed_at: datetime, closing_rule: str) -> JournalRecord:
        LOOP_GUARD.check()
        return self.repositories.journal.add_journal(
            workflow_id, strategy, symbol, entry_price, exit_price, fees, realised_pnl,
            opened_at, closed_at, closing_rule)

    def journal(self) -> list[JournalRecord]:
        LOOP_GUARD.check()
        return self.repositories.journal.journal()

    # -- lifecycle transactions -----------------------------------------------------------------

    def book_lifecycle(self, event: LifecycleEvent, workflow_id: WorkflowId | None,
                       now: datetime) -> bool:
        LOOP_GUARD.check()
        return self.repositories.lifecycle.book_lifecycle(event, workflow_id, now)

    def lifecycle_booked(self, transaction_id: str) -> bool:
        LOOP_GUARD.check()
        return self.repositories.lifecycle.lifecycle_booked(transaction_id)

    def lifecycle_bookings(self, workflow_id: WorkflowId | None = None) -> list[LifecycleBooking]:
        LOOP_GUARD.check()
        return self.repositories.lifecycle.lifecycle_bookings(workflow_id)

    def last_lifecycle_time(self) -> datetime | None:
        LOOP_GUARD.check()
        return self.repositories.lifecycle.last_lifecycle_time()

    def add_rule_action(self, workflow_id: WorkflowId, rule_type: str, action: str, detail: str,
                        status: str, now: datetime) -> RuleActionRecord:
        LOOP_GUARD.check()
        return self.repositories.journal.add_rule_action(workflow_id, rule_type, action, detail,
                                                         status, now)

    def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        LOOP_GUARD.check()
        return self.repositories.journal.rule_actions(workflow_id)

    def record_metric(self, name: str, value: float, now: datetime) -> None:
        LOOP_GUARD.check()
        self.repositories.journal.record_metric(name, value, now)

    def metrics(self, name: str, since: datetime | None = None) -> list[tuple[datetime, float]]:
        LOOP_GUARD.check()
        return self.repositories.journal.metrics(name, since)

    # -- audit, errors, config ------------------------------------------------------------------

    def audit(self, actor: Actor | str, action: str, detail: str, now: datetime,
              workflow_id: WorkflowId | None = None) -> None:
        LOOP_GUARD.check()
        self.repositories.logs.audit(actor, action, detail, now, workflow_id)

    def audit_log(self, limit: int | None = None) -> list[AuditRecord]:
        LOOP_GUARD.check()
        return self.repositories.logs.audit_log(limit)

    def log_error(self, category: ErrorCategory, message: str, now: datetime, detail: str = "",
                  workflow_id: WorkflowId | None = None) -> None:
        LOOP_GUARD.check()
        self.repositories.logs.log_error(category, message, now, detail, workflow_id)

    def errors(self, limit: int | None = None) -> list[ErrorRecord]:
        LOOP_GUARD.check()
        return self.repositories.logs.errors(limit)

    def get_config(self, key: str, default: Any = None) -> Any:
        LOOP_GUARD.check()
        return self.repositories.config.get_config(key, default)

    def set_config(self, key: str, value: Any) -> None:
        LOOP_GUARD.check()
        self.repositories.config.set_config(key, value)

    # -- checks ---------------------------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """Every problem found, ``[]`` when the database is sound.

        SQLite's page and foreign-key checks, plus the store's own invariants: every order
        belongs to a workflow, and each workflow's transition log starts at creation, chains
        ``from -> to`` through legal moves, is numbered 1..version and ends in its current state.
        """
        LOOP_GUARD.check()
        return self.repositories.checks.integrity_check()

__all__ = ["AsyncStore", "InvalidTransition", "Store"]
