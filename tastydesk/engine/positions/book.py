"""The position book: monitored positions fed by market events, and their rule checks.

Quotes and greeks for a position's legs update it inline; its rules are checked once per loop
turn after a burst (coalesced), and a rule that fires is handed to ``on_rule_due`` (the position
actions), which runs it as a task. The book also keeps each position's view current while the
desktop watches positions (``watch_views``), a few at a time as quotes arrive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel, RuleAction, RuleType
from tastydesk.engine.domain.events import (
    Alert,
    GreeksReceived,
    QuoteReceived,
    RuleActionRecorded,
    RuleTriggered,
)
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import WorkflowRecord
from tastydesk.engine.domain.strategy import ManagementRule, Strategy
from tastydesk.engine.domain.views import PositionView
from tastydesk.engine.execution_pricing.anomaly import DESCRIPTIONS
from tastydesk.engine.execution_pricing.thresholds import max_profit_at_fill
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.chain import load_current_chain
from tastydesk.engine.positions.monitored import (
    MonitoredPosition,
    contracts,
    monitored_leg,
)
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.subscriptions import StreamClaims
from tastydesk.engine.workflow.book import WorkflowBook

#: Rule-action statuses that spend a one-shot partial close (also after a restart).
ACTING = "acting automatically"
ONE_UNIT = "not acted on: one unit open, a partial close would close all of it"
CLAIM = "position"
#: Rule checks per loop turn (about 6 ms of work at most; see ``flush_checks``).
CHECK_BATCH = 20


class PositionBook:
    def __init__(self, *, book: WorkflowBook, broker: BrokerPort, store: AsyncStore,
                 settings: Settings, strategies: StrategyLibrary, streams: StreamClaims,
                 bus: EventBus, clock: Clock, spawn: Callable[[Any, str], Any],
                 counters: Counter[str], on_change: Callable[[], None],
                 on_rule_due: Callable[[MonitoredPosition, int], None]) -> None:
        self._book = book
        self._broker = broker
        self._store = store
        self._settings = settings
        self._strategies = strategies
        self._streams = streams
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        self._on_change = on_change
        self._on_rule_due = on_rule_due
        self._monitored: dict[WorkflowId, MonitoredPosition] = {}
        self._by_symbol: dict[str, list[MonitoredPosition]] = defaultdict(list)
        self._proposals: dict[ProposalId, TradeProposal] = {}
        # symbol -> its next ex-date and amount, for positions loaded after it was read
        self._dividends: dict[str, tuple[date, Decimal] | None] = {}
        self._dirty: dict[int, MonitoredPosition] = {}
        self._flush_scheduled = False
        self._views_wanted = False
        self._betas: dict[str, tuple[date, float]] = {}

    # ---- queries
    def get(self, workflow_id: WorkflowId) -> MonitoredPosition | None:
        return self._monitored.get(workflow_id)

    def __iter__(self) -> Iterator[MonitoredPosition]:
        return iter(list(self._monitored.values()))

    def __len__(self) -> int:
        return len(self._monitored)

    def held_legs(self) -> dict[str, tuple[int, int]]:
        """OCC symbol -> (signed contracts, workflow id) for every monitored leg."""
        return {leg.symbol: (leg.quantity, mon.workflow_id)
                for mon in self._monitored.values() for leg in mon.legs}

    def views(self, today: date) -> list[PositionView]:
        out = []
        for wid, mon in sorted(self._monitored.items()):
            state = self._book.state(wid)
            view = mon.cached_view
            if view is None or view.state is not state or view.dte != mon.dte(today):
                view = mon.view(state, today)
            out.append(view)
        return out

    def watch_views(self, wanted: bool) -> None:
        """Keep position views current as quotes arrive (set while a view shows positions)."""
        self._views_wanted = wanted

    def set_dividend(self, symbol: str, ex_dividend: tuple[date, Decimal] | None) -> None:
        """The next ex-date and amount of ``symbol``'s dividend, for the positions on it (the
        ex-dividend rule and the assignment-risk figures read them)."""
        self._dividends[symbol] = ex_dividend
        for mon in self._monitored.values():
            if mon.symbol == symbol and mon.ex_dividend != ex_dividend:
                mon.ex_dividend = ex_dividend
                self._mark_dirty(mon)

    def remember_proposal(self, proposal_id: ProposalId, proposal: TradeProposal) -> None:
        self._proposals[proposal_id] = proposal

    # ---- loading
    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(QuoteReceived, self._on_quote),
                self._bus.subscribe(GreeksReceived, self._on_greeks)]

    async def load(self, workflow_id: WorkflowId, keep_acting: bool = False) -> None:
        """(Re)build a monitored position from the stored legs and the workflow's proposal;
        ``keep_acting``: the action in progress (a working exit) goes on for the new one."""
        wf = self._book.get(workflow_id)
        legs_rec = [p for p in await self._store.positions(workflow_id, open_only=True)
                    if p.quantity != 0]
        old = self._monitored.get(workflow_id)
        self.drop(workflow_id)
        if not legs_rec:
            return
        proposal = await self.proposal(wf.proposal_id) if wf.proposal_id else None
        rules = self.effective_rules(wf, self._strategies.get(wf.strategy_name))
        base = min(abs(contracts(p.symbol, p.quantity)) for p in legs_rec) or 1
        legs = [monitored_leg(p.symbol, p.quantity, p.avg_open_price, base)
                for p in sorted(legs_rec, key=lambda r: r.symbol)]
        units = base if all(leg.ratio * base == contracts(leg.symbol, leg.quantity)
                            for leg in legs) else 1
        if proposal is not None and proposal.quantity:
            per_unit_profit = proposal.max_profit / proposal.quantity
            per_unit_loss = proposal.max_loss / proposal.quantity
            per_unit_bp = proposal.buying_power / proposal.quantity
        else:
            per_unit_profit = per_unit_loss = per_unit_bp = ZERO
        mon = MonitoredPosition(
            workflow_id=workflow_id, symbol=wf.symbol, strategy_name=wf.strategy_name or "",
            legs=legs, units=units, max_profit_per_unit=per_unit_profit,
            max_loss_per_unit=per_unit_loss, buying_power_per_unit=per_unit_bp, rules=rules,
            opened_at=min(p.opened_at for p in legs_rec), paused=wf.rules_paused,
            beta=await self._beta(wf.symbol))
        if proposal is not None and proposal.quantity:
            # Targets count against the credit actually received, not the proposal's mid.
            mon.max_profit_per_unit = max_profit_at_fill(per_unit_profit, proposal.mid_price,
                                                         mon.entry_price)
        # A roll keeps the position's identity: its chain (and what it realised) carries over.
        mon.chain = await load_current_chain(self._store, workflow_id, self._clock.now())
        if mon.chain is not None:
            mon.realised_pnl = mon.chain.realised_pnl
        if mon.max_profit_per_unit <= 0 and mon.entry_price > 0:
            mon.max_profit_per_unit = mon.entry_price * 100
        if old is None:
            for action in await self._store.rule_actions(workflow_id):
                if action.time >= mon.opened_at and action.status in (ACTING, ONE_UNIT):
                    for i, r in enumerate(rules):
                        if r.rule_type.value == action.rule_type and \
                                r.rule_type is RuleType.PARTIAL_CLOSE:
                            mon.spent.add(i)
        else:
            mon.alerted = old.alerted
            mon.spent = old.spent
            mon.acting = keep_acting and old.acting
            for leg in mon.legs:
                prev = next((x for x in old.legs if x.symbol == leg.symbol), None)
                if prev:
                    if prev.bid is not None and prev.ask is not None:
                        leg.quoted(prev.bid, prev.ask, prev.quote_time)
                    leg.delta, leg.theta, leg.vega = prev.delta, prev.theta, prev.vega
        if old is not None:
            mon.spot, mon.ex_dividend = old.spot, old.ex_dividend
        else:
            mon.ex_dividend = self._dividends.get(mon.symbol)
        self.track(mon)
        await self._broker.subscribe([leg.streamer_symbol for leg in mon.legs])
        if any(leg.mid is None for leg in mon.legs):
            await self.refresh_quotes(mon)
        self._on_change()
        self._mark_dirty(mon)  # statuses for the views at once; acts if a rule already holds

    def track(self, mon: MonitoredPosition) -> None:
        """Watch a position: its legs' quotes and greeks now reach it."""
        self._monitored[mon.workflow_id] = mon
        for symbol in {mon.symbol, *(leg.streamer_symbol for leg in mon.legs)}:
            self._by_symbol[symbol].append(mon)
        self._streams.claim(CLAIM, mon.workflow_id, [leg.streamer_symbol for leg in mon.legs])

    async def _beta(self, symbol: str) -> float:
        """The underlying's beta from the broker's market metrics (against SPY), read once a
        day per symbol: the portfolio's beta-weighted delta depends on it (TSLA about 2)."""
        today = self._clock.today()
        cached = self._betas.get(symbol)
        if cached is not None and cached[0] == today:
            return cached[1]
        try:
            info = (await self._broker.market_metrics([symbol])).get(symbol)
        except Exception:  # metrics unavailable: keep yesterday's figure, else 1
            return cached[1] if cached else 1.0
        beta = info.beta if info is not None and math.isfinite(info.beta) else 1.0
        self._betas[symbol] = (today, beta)
        return beta

    async def proposal(self, proposal_id: ProposalId) -> TradeProposal:
        """A stored proposal (an entry's, or a roll's target), cached once read."""
        cached = self._proposals.get(proposal_id)
        if cached is None:
            cached = (await self._store.get_proposal(proposal_id)).proposal
            self._proposals[proposal_id] = cached
        return cached

    async def refresh_quotes(self, mon: MonitoredPosition) -> None:
        """Quotes and greeks for every leg from the broker's chain, for a position whose stream
        has not ticked yet (just loaded, or just subscribed)."""
        today = self._clock.today()
        dtes = [(leg.expiry - today).days for leg in mon.legs if leg.expiry is not None] or [0]
        chain = await self._broker.option_chain(mon.symbol, max(0, min(dtes)), max(0, max(dtes)))
        for leg in mon.legs:
            contract = chain.contract(leg.symbol)
            if contract is None:
                continue
            if contract.quote is not None and leg.mid is None:
                q = contract.quote
                leg.quoted(q.bid, q.ask, q.time)
            if contract.greeks is not None and leg.delta is None:
                g = contract.greeks
                leg.delta, leg.theta, leg.vega = g.delta, g.theta, g.vega

    def drop(self, workflow_id: WorkflowId) -> None:
        mon = self._monitored.pop(workflow_id, None)
        if mon is None:
            return
        for symbol in {mon.symbol, *(leg.streamer_symbol for leg in mon.legs)}:
            lst = self._by_symbol.get(symbol)
            if lst is not None:
                lst[:] = [m for m in lst if m is not mon]
                if not lst:
                    del self._by_symbol[symbol]
        # A closed position's legs stop streaming unless a pending proposal still shows them:
        # otherwise every contract ever held would keep ticking for the rest of the session.
        self._streams.release(CLAIM, workflow_id, [leg.streamer_symbol for leg in mon.legs],
                              "unsubscribe-closed")
        self._on_change()

    def effective_rules(self, wf: WorkflowRecord,
                        strategy: Strategy | None) -> tuple[ManagementRule, ...]:
        rules = list(strategy.rules) if strategy else []
        for key, value in (wf.rule_overrides or {}).items():
            idx = int(key)
            if 0 <= idx < len(rules):
                rules[idx] = dataclasses.replace(rules[idx], threshold=Decimal(str(value)))
        return tuple(rules)

    # ---- action state
    def action_done(self, workflow_id: WorkflowId) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is not None:
            mon.acting = False

    def close_failed(self, workflow_id: WorkflowId, retry_after: datetime) -> None:
        """A closing order ended unfilled: rules start over and wait before acting again."""
        mon = self._monitored.get(workflow_id)
        if mon:
            mon.acting = False
            mon.holds = [type(h)() for h in mon.holds]
            mon.retry_after = retry_after

    # ---- trader commands on rules
    async def set_rules_paused(self, workflow_id: WorkflowId, paused: bool) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is not None:
            mon.paused = paused
            mon.cached_view = None
        await self._book.update(workflow_id, rules_paused=paused)

    async def set_rule_threshold(self, workflow_id: WorkflowId, rule_index: int,
                                 overrides: dict[str, str], strategy: Strategy) -> None:
        wf = await self._book.update(workflow_id, rule_overrides=overrides)
        mon = self._monitored.get(workflow_id)
        if mon is not None:
            mon.rules = self.effective_rules(wf, strategy)
            mon.awaiting.discard(rule_index)
            mon.cached_view = None

    # ---- market events and rule checks
    def _on_quote(self, event: QuoteReceived) -> None:
        q = event.quote
        mons = self._by_symbol.get(q.symbol)
        if mons is None:
            return
        for mon in mons:
            quoted = False
            if q.symbol == mon.symbol:
                mon.spot = float(q.mid)  # assignment risk reads the underlying's price
            for leg in mon.legs:
                if leg.streamer_symbol == q.symbol:
                    leg.quoted(q.bid, q.ask, q.time)
                    quoted = True
            if quoted:  # the legs' own quotes drive the rule checks
                self._mark_dirty(mon)
        self._on_change()

    def _on_greeks(self, event: GreeksReceived) -> None:
        g = event.greeks
        mons = self._by_symbol.get(g.symbol)
        if mons is None:
            return
        for mon in mons:
            for leg in mon.legs:
                if leg.streamer_symbol == g.symbol:
                    leg.delta, leg.theta, leg.vega = g.delta, g.theta, g.vega
            if mon.delta_rules:  # only delta-breach rules read greeks; quotes drive the rest
                self._mark_dirty(mon)

    def _mark_dirty(self, mon: MonitoredPosition) -> None:
        """Queue a rule check for this loop turn.

        Quotes for a position's legs arrive as separate events, often in one burst (one stream
        message, one paper step). Checking once after the burst means the rules never see a
        spread priced from one fresh leg and one stale leg, which would fake a profit or a loss.
        """
        self._dirty[mon.workflow_id] = mon
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_checks)

    def flush_checks(self) -> None:
        """Run the rule checks queued this loop turn (scheduled by the first quote of a burst).

        At most ``CHECK_BATCH`` positions per loop turn, oldest first; the rest wait for the next
        turn, so a burst that moves hundreds of positions never holds the event loop (and the
        window) for the whole of it. Each turn still sees only whole bursts: a quote that
        arrives meanwhile updates its position before that position's check.
        """
        self._flush_scheduled = False
        if len(self._dirty) <= CHECK_BATCH:
            batch, self._dirty = self._dirty, {}
        else:
            keys = list(itertools.islice(self._dirty, CHECK_BATCH))
            batch = {wid: self._dirty.pop(wid) for wid in keys}
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_checks)
        today = self._clock.today()
        for mon in batch.values():
            if self._monitored.get(mon.workflow_id) is mon:
                self.check(mon)
                if self._views_wanted:
                    # Rebuilt here, a few at a time as quotes arrive, so a view refresh never
                    # has to rebuild hundreds of positions in one go.
                    mon.cached_view = mon.view(self._book.state(mon.workflow_id), today)

    def recheck_new_day(self) -> None:
        """Time rules depend on DTE, which changes overnight: re-check on a new session."""
        today = self._clock.today()
        for mon in list(self._monitored.values()):
            if mon.today != today:
                mon.today = today
                self.check(mon)

    def check(self, mon: MonitoredPosition) -> None:
        """Evaluate a position's rules now; hand a triggered action on."""
        mon.cached_view = None
        now = self._clock.now()
        before = mon.anomaly
        acting = mon.evaluate(self._clock.today(), now,
                              self._settings.config.max_quote_age_seconds)
        if mon.anomaly is not None and mon.anomaly is not before:
            self._counters["quote_anomalies"] += 1
            self._bus.publish(Alert(
                AlertLevel.WARNING, AlertCategory.RULE, f"{mon.symbol}: quotes ignored",
                f"{DESCRIPTIONS[mon.anomaly]} ({mon.anomaly.value}): rules wait and no order is "
                "priced from these quotes", now, mon.workflow_id))
        if acting is None or acting in mon.awaiting:
            return
        if mon.retry_after is not None and now < mon.retry_after:
            return
        rule = mon.rules[acting]
        if rule.action is RuleAction.ALERT:
            if acting not in mon.alerted:
                mon.alerted.add(acting)
                self.rule_fired(mon, rule, "alert", "alert raised")
            return
        mon.acting = True
        self._on_rule_due(mon, acting)

    def rule_fired(self, mon: MonitoredPosition, rule: ManagementRule, action: str,
                   status: str) -> None:
        detail = next((s.description for s in mon.statuses if s.rule_type is rule.rule_type), "")
        now = self._clock.now()
        self._counters[f"rule:{rule.rule_type.value}"] += 1
        self._bus.publish(RuleTriggered(mon.workflow_id, rule.rule_type.value, action, detail, now))
        self._bus.publish(Alert(
            AlertLevel.WARNING if rule.rule_type in (RuleType.STOP_LOSS, RuleType.DELTA_BREACH)
            else AlertLevel.INFO, AlertCategory.RULE, f"{mon.symbol}: {rule.rule_type.value}",
            f"{detail} -> {status}", now, mon.workflow_id))
        self._spawn(self._record_rule_action(mon.workflow_id, rule.rule_type.value, action,
                                             detail, status, now), "rule-action")

    async def _record_rule_action(self, workflow_id: WorkflowId, rule_type: str, action: str,
                                  detail: str, status: str, now: datetime) -> None:
        record = await self._store.add_rule_action(workflow_id, rule_type, action, detail, status,
                                                   now)
        self._bus.publish(RuleActionRecorded(record))
