"""The store for code on the event loop: every Store method as a typed coroutine.

A single-writer executor in the manner of a desktop app's backend database thread: each call is
queued, in the order it was awaited, to ONE dedicated thread that runs it to completion (its
transaction committed and fsynced) before the next starts. The loop never waits on SQLite, and
the one-writer rule holds without extra locking. Reads take the same queue, so a read awaited
after a write always sees it.

``inline`` stores (the headless simulation, where no UI shares the loop) run each call on the
loop thread instead: the same order and the same transactions, without the thread hop.

The methods reach the repositories directly, so they are never refused by the loop guard
(:mod:`tastydesk.engine.store.guard`), which only watches the synchronous :class:`Store`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

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
from tastydesk.engine.store.guard import LOOP_GUARD

if TYPE_CHECKING:
    from tastydesk.engine.store.service import Store

P = ParamSpec("P")
R = TypeVar("R")


class AsyncStore:
    """The same methods as :class:`Store`, as coroutines run on one dedicated writer thread."""

    def __init__(self, store: Store, inline: bool = False) -> None:
        self.store = store
        self.inline = inline
        self._repos = store.repositories
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tastydesk-store")

    async def _call(self, func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.inline:
            return func(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor,
                                          functools.partial(func, *args, **kwargs))

    async def run(self, func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run any callable on the writer thread (for multi-step work that belongs together).

        Inline, it runs on the loop thread with the loop guard's permission, so it may call the
        synchronous :class:`Store`.
        """
        if self.inline:
            with LOOP_GUARD.permitted():
                return func(*args, **kwargs)
        return await self._call(func, *args, **kwargs)

    def submit(self, func: Callable[[], None]) -> Future[None]:
        """Queue ``func`` on the writer thread without waiting for it (write-behind of the paper
        state: in order with every store call). Inline stores run it now."""
        if self.inline:
            done: Future[None] = Future()
            func()
            done.set_result(None)
            return done
        return self._executor.submit(func)

    async def close(self) -> None:
        """Close the store after every queued call has run, then stop the writer thread."""
        await self._call(self.store.close)
        self._executor.shutdown(wait=True)

    async def list_strategies(self) -> list[Strategy]:
        return await self._call(self._repos.strategies.list_strategies)

    async def get_strategy(self, name: str) -> Strategy | None:
        return await self._call(self._repos.strategies.get_strategy, name)

    async def save_strategy(self, strategy: Strategy) -> None:
        await self._call(self._repos.strategies.save_strategy, strategy)

    async def delete_strategy(self, name: str) -> None:
        await self._call(self._repos.strategies.delete_strategy, name)

    async def restore_default_strategies(self) -> None:
        await self._call(self._repos.strategies.restore_default_strategies)

    async def is_builtin_strategy(self, name: str) -> bool:
        return await self._call(self._repos.strategies.is_builtin_strategy, name)

    async def create_workflow(self, symbol: str, actor: Actor, reason: str, now: datetime,
                              strategy_name: str | None = None) -> WorkflowRecord:
        return await self._call(self._repos.workflows.create_workflow, symbol, actor, reason, now,
                                strategy_name)

    async def create_workflows(self, symbols: Iterable[str], actor: Actor, reason: str,
                               now: datetime, strategy_name: str | None = None) -> list[WorkflowId]:
        return await self._call(self._repos.workflows.create_workflows, symbols, actor, reason, now,
                                strategy_name)

    async def transition(self, workflow_id: WorkflowId, trigger: Trigger, actor: Actor, reason: str,
                         now: datetime, payload: dict[str, Any] | None = None,
                         **updates: Any) -> WorkflowRecord:
        return await self._call(self._repos.workflows.transition, workflow_id, trigger, actor,
                                reason, now, payload, **updates)

    async def transition_many(self, items: Sequence[TransitionRequest]) -> list[WorkflowRecord]:
        return await self._call(self._repos.workflows.transition_many, items)

    async def get_workflow(self, workflow_id: WorkflowId) -> WorkflowRecord:
        return await self._call(self._repos.workflows.get_workflow, workflow_id)

    async def list_workflows(self, states: Iterable[WorkflowState] | None = None,
                             symbol: str | None = None) -> list[WorkflowRecord]:
        return await self._call(self._repos.workflows.list_workflows, states, symbol)

    async def transitions(self, workflow_id: WorkflowId | None = None,
                          limit: int | None = None) -> list[TransitionRecord]:
        return await self._call(self._repos.workflows.transitions, workflow_id, limit)

    async def update_workflow(self, workflow_id: WorkflowId, **fields: Any) -> WorkflowRecord:
        return await self._call(self._repos.workflows.update_workflow, workflow_id, **fields)

    async def save_proposal(self, workflow_id: WorkflowId, proposal: TradeProposal,
                            expires_at: datetime | None) -> ProposalId:
        return await self._call(self._repos.proposals.save_proposal, workflow_id, proposal,
                                expires_at)

    async def get_proposal(self, proposal_id: ProposalId) -> ProposalRecord:
        return await self._call(self._repos.proposals.get_proposal, proposal_id)

    async def set_proposal_status(self, proposal_id: ProposalId, status: ProposalStatus) -> None:
        await self._call(self._repos.proposals.set_proposal_status, proposal_id, status)

    async def record_decision(self, proposal_id: ProposalId, decision: Decision, user: str, reason: str,
                              now: datetime, price: Decimal | None = None,
                              quantity: int | None = None) -> DecisionRecord:
        return await self._call(self._repos.proposals.record_decision, proposal_id, decision, user,
                                reason, now, price, quantity)

    async def decisions(self, limit: int | None = None) -> list[DecisionRecord]:
        return await self._call(self._repos.proposals.decisions, limit)

    async def create_order_intent(self, workflow_id: WorkflowId, purpose: OrderPurpose, request: OrderRequest,
                                  quantity: int, now: datetime, proposal_id: ProposalId | None = None,
                                  attempt: int = 0) -> OrderRecord:
        return await self._call(self._repos.orders.create_order_intent, workflow_id, purpose,
                                request, quantity, now, proposal_id, attempt)

    async def update_order(self, external_id: ExternalOrderId, status: OrderStatus, now: datetime,
                           broker_order_id: BrokerOrderId | None = None, price: Decimal | None = None,
                           filled_quantity: int | None = None, detail: str = "",
                           fees: Decimal | None = None, mid: Decimal | None = None,
                           natural: Decimal | None = None) -> OrderRecord:
        return await self._call(self._repos.orders.update_order, external_id, status, now,
                                broker_order_id, price, filled_quantity, detail, fees, mid,
                                natural)

    async def get_order(self, external_id: ExternalOrderId) -> OrderRecord | None:
        return await self._call(self._repos.orders.get_order, external_id)

    async def order_by_broker_id(self, broker_order_id: BrokerOrderId) -> OrderRecord | None:
        return await self._call(self._repos.orders.order_by_broker_id, broker_order_id)

    async def orders(self, workflow_id: WorkflowId | None = None,
                     open_only: bool = False) -> list[OrderRecord]:
        return await self._call(self._repos.orders.orders, workflow_id, open_only)

    async def order_events(self, external_id: ExternalOrderId) -> list[OrderEventRecord]:
        return await self._call(self._repos.orders.order_events, external_id)

    async def order_events_by_order(self, external_ids: Iterable[ExternalOrderId] | None = None
                                    ) -> dict[ExternalOrderId, list[OrderEventRecord]]:
        return await self._call(self._repos.orders.order_events_by_order, external_ids)

    async def add_fill(self, external_id: ExternalOrderId, fill: Fill) -> bool:
        return await self._call(self._repos.orders.add_fill, external_id, fill)

    async def record_fills(self, external_id: ExternalOrderId, fills: Sequence[Fill],
                           now: datetime) -> list[Fill]:
        return await self._call(self._repos.orders.record_fills, external_id, fills, now)

    async def fills(self, workflow_id: WorkflowId | None = None) -> list[FillRecord]:
        return await self._call(self._repos.orders.fills, workflow_id)

    async def apply_position_fill(self, workflow_id: WorkflowId, symbol: str, signed_quantity: int,
                                  price: Decimal, now: datetime) -> PositionRecord:
        return await self._call(self._repos.positions.apply_position_fill, workflow_id, symbol,
                                signed_quantity, price, now)

    async def positions(self, workflow_id: WorkflowId | None = None,
                        open_only: bool = True) -> list[PositionRecord]:
        return await self._call(self._repos.positions.positions, workflow_id, open_only)

    async def add_journal(self, workflow_id: WorkflowId, strategy: str, symbol: str, entry_price: Decimal,
                          exit_price: Decimal, fees: Decimal, realised_pnl: Decimal,
                          opened_at: datetime, closed_at: datetime, closing_rule: str) -> JournalRecord:
        return await self._call(self._repos.journal.add_journal, workflow_id, strategy, symbol,
                                entry_price, exit_price, fees, realised_pnl, opened_at, closed_at,
                                closing_rule)

    async def journal(self) -> list[JournalRecord]:
        return await self._call(self._repos.journal.journal)

    async def book_lifecycle(self, event: LifecycleEvent, workflow_id: WorkflowId | None,
                             now: datetime) -> bool:
        return await self._call(self._repos.lifecycle.book_lifecycle, event, workflow_id, now)

    async def lifecycle_booked(self, transaction_id: str) -> bool:
        return await self._call(self._repos.lifecycle.lifecycle_booked, transaction_id)

    async def lifecycle_bookings(self, workflow_id: WorkflowId | None = None) -> list[LifecycleBooking]:
        return await self._call(self._repos.lifecycle.lifecycle_bookings, workflow_id)

    async def last_lifecycle_time(self) -> datetime | None:
        return await self._call(self._repos.lifecycle.last_lifecycle_time)

    async def add_rule_action(self, workflow_id: WorkflowId, rule_type: str, action: str, detail: str,
                              status: str, now: datetime) -> RuleActionRecord:
        return await self._call(self._repos.journal.add_rule_action, workflow_id, rule_type, action,
                                detail, status, now)

    async def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        return await self._call(self._repos.journal.rule_actions, workflow_id)

    async def record_metric(self, name: str, value: float, now: datetime) -> None:
        await self._call(self._repos.journal.record_metric, name, value, now)

    async def metrics(self, name: str, since: datetime | None = None) -> list[tuple[datetime, float]]:
        return await self._call(self._repos.journal.metrics, name, since)

    async def audit(self, actor: Actor | str, action: str, detail: str, now: datetime,
                    workflow_id: WorkflowId | None = None) -> None:
        await self._call(self._repos.logs.audit, actor, action, detail, now, workflow_id)

    async def audit_log(self, limit: int | None = None) -> list[AuditRecord]:
        return await self._call(self._repos.logs.audit_log, limit)

    async def log_error(self, category: ErrorCategory, message: str, now: datetime, detail: str = "",
                        workflow_id: WorkflowId | None = None) -> None:
        await self._call(self._repos.logs.log_error, category, message, now, detail, workflow_id)

    async def errors(self, limit: int | None = None) -> list[ErrorRecord]:
        return await self._call(self._repos.logs.errors, limit)

    async def get_config(self, key: str, default: Any = None) -> Any:
        return await self._call(self._repos.config.get_config, key, default)

    async def set_config(self, key: str, value: Any) -> None:
        await self._call(self._repos.config.set_config, key, value)

    async def integrity_check(self) -> list[str]:
        return await self._call(self._repos.checks.integrity_check)
