"""Position management: monitored positions fed by market events, rule checks, rule-driven
and manual closes, partial closes and rolls, and adoption of positions opened elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.chain import parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import (
    Actor,
    OrderAction,
    OrderPurpose,
    RuleAction,
    RuleType,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import (
    GreeksReceived,
    QuoteReceived,
    RuleTriggered,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    WorkflowRecord,
)
from tastydesk.engine.domain.strategy import DteRange, ManagementRule, Strategy
from tastydesk.engine.errors import EngineError
from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.selection import SelectionError
from tastydesk.engine.workflow.common import (
    HOLDING,
)
from tastydesk.engine.workflow.monitor import MonitoredLeg, MonitoredPosition
from tastydesk.engine.workflow.pricing_walk import initial_price
from tastydesk.engine.workflow.rules import close_quantity

log = logging.getLogger(__name__)

#: Rule-action statuses that spend a one-shot partial close (also after a restart).
ACTING = "acting automatically"
ONE_UNIT = "not acted on: one unit open, a partial close would close all of it"


class ManagementMixin:
    """Part of :class:`tastydesk.engine.engine.Engine`; see its docstring. Relies on the
    engine's state (orders, monitored positions, store, broker, clock, bus)."""

    # ------------------------------------------------------------------ monitoring
    async def _load_monitored(self, workflow_id: int) -> None:
        """(Re)build a monitored position from the stored legs and the workflow's proposal."""
        wf = self._workflows[workflow_id]
        legs_rec = [p for p in await self.store.positions(workflow_id, open_only=True)
                    if p.quantity != 0]
        old = self._monitored.get(workflow_id)
        self._drop_monitored(workflow_id)
        if not legs_rec:
            return
        proposal = await self._proposal(wf.proposal_id) if wf.proposal_id else None
        strategy = self._strategies.get(wf.strategy_name or "")
        rules = self._effective_rules(wf, strategy)
        base = min(abs(p.quantity) for p in legs_rec)
        legs = []
        for p in sorted(legs_rec, key=lambda r: r.symbol):
            root, expiry, option_type, strike = parse_occ(p.symbol)
            legs.append(MonitoredLeg(
                symbol=p.symbol, streamer_symbol=streamer_symbol(root, expiry, option_type, strike),
                option_type=option_type, strike=strike, expiry=expiry, quantity=p.quantity,
                ratio=p.quantity // base if p.quantity % base == 0 else p.quantity,
                entry_price=p.avg_open_price))
        units = base if all(leg.quantity % base == 0 for leg in legs) else 1
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
            beta=1.0)
        if mon.max_profit_per_unit <= 0 and mon.entry_price > 0:
            mon.max_profit_per_unit = mon.entry_price * 100
        if old is None:
            opened = mon.opened_at
            for action in await self.store.rule_actions(workflow_id):
                if action.time >= opened and action.status in (ACTING, ONE_UNIT):
                    for i, r in enumerate(rules):
                        if r.rule_type.value == action.rule_type and \
                                r.rule_type is RuleType.PARTIAL_CLOSE:
                            mon.spent.add(i)
        else:
            mon.alerted = old.alerted
            mon.spent = old.spent
            for leg in mon.legs:
                prev = next((x for x in old.legs if x.symbol == leg.symbol), None)
                if prev:
                    leg.mid, leg.bid, leg.ask, leg.delta = prev.mid, prev.bid, prev.ask, prev.delta
                    leg.theta, leg.vega, leg.quote_time = prev.theta, prev.vega, prev.quote_time
        self._monitored[workflow_id] = mon
        for leg in mon.legs:
            self._by_symbol[leg.streamer_symbol].append(mon)
        await self.broker.subscribe([leg.streamer_symbol for leg in mon.legs])
        if any(leg.mid is None for leg in mon.legs):
            await self._refresh_leg_quotes(mon)
        self._portfolio_dirty = True
        self._mark_dirty(mon)  # statuses for the views at once; acts if a rule already holds

    async def _proposal(self, proposal_id: int) -> TradeProposal:
        cached = self._proposals.get(proposal_id)
        if cached is None:
            cached = (await self.store.get_proposal(proposal_id)).proposal
            self._proposals[proposal_id] = cached
        return cached

    async def _refresh_leg_quotes(self, mon: MonitoredPosition) -> None:
        """Quotes and greeks for every leg from the broker's chain, for a position whose stream
        has not ticked yet (just loaded, or just subscribed)."""
        today = self.clock.today()
        dtes = [(leg.expiry - today).days for leg in mon.legs]
        chain = await self.broker.option_chain(mon.symbol, max(0, min(dtes)), max(0, max(dtes)))
        for leg in mon.legs:
            contract = chain.contract(leg.symbol)
            if contract is None:
                continue
            if contract.quote is not None and leg.mid is None:
                q = contract.quote
                leg.bid, leg.ask, leg.mid, leg.quote_time = (float(q.bid), float(q.ask),
                                                             float(q.mid), q.time)
            if contract.greeks is not None and leg.delta is None:
                g = contract.greeks
                leg.delta, leg.theta, leg.vega = g.delta, g.theta, g.vega

    def _drop_monitored(self, workflow_id: int) -> None:
        mon = self._monitored.pop(workflow_id, None)
        if mon is None:
            return
        idle: list[str] = []
        for leg in mon.legs:
            lst = self._by_symbol.get(leg.streamer_symbol)
            if lst is not None:
                lst[:] = [m for m in lst if m is not mon]
                if not lst:
                    del self._by_symbol[leg.streamer_symbol]
                    idle.append(leg.streamer_symbol)
        # A closed position's legs stop streaming unless a pending proposal still shows them:
        # otherwise every contract ever held would keep ticking for the rest of the session.
        if idle:
            self.spawn(self._unsubscribe_idle(idle), "unsubscribe-closed")
        self._portfolio_dirty = True

    async def _unsubscribe_idle(self, symbols: list[str]) -> None:
        # Decided when the task runs, not when it was queued: a position or proposal taking the
        # same contract in between keeps its stream.
        pending = {leg.streamer_symbol for p in self._pending.values() for leg in p.proposal.legs}
        unused = [sym for sym in symbols if sym not in self._by_symbol and sym not in pending]
        if unused:
            await self.broker.unsubscribe(unused)

    def _effective_rules(self, wf: WorkflowRecord,
                         strategy: Strategy | None) -> tuple[ManagementRule, ...]:
        rules = list(strategy.rules) if strategy else []
        for key, value in (wf.rule_overrides or {}).items():
            idx = int(key)
            if 0 <= idx < len(rules):
                rules[idx] = dataclasses.replace(rules[idx], threshold=Decimal(str(value)))
        return tuple(rules)

    def _on_quote(self, event: QuoteReceived) -> None:
        self._event_count += 1
        q = event.quote
        self._quote_time = q.time
        if q.symbol in self._pending_quotes:
            self._pending_quotes[q.symbol] = q
        mons = self._by_symbol.get(q.symbol)
        if mons is None:
            if not q.symbol.startswith("."):
                self._spots[q.symbol] = float(q.mid)
            return
        bid, ask = float(q.bid), float(q.ask)
        mid = (bid + ask) / 2
        for mon in mons:
            for leg in mon.legs:
                if leg.streamer_symbol == q.symbol:
                    leg.bid, leg.ask, leg.mid, leg.quote_time = bid, ask, mid, q.time
            self._mark_dirty(mon)
        self._portfolio_dirty = True

    def _on_greeks(self, event: GreeksReceived) -> None:
        self._event_count += 1
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
            asyncio.get_running_loop().call_soon(self._flush_checks)

    def _flush_checks(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        today = self.clock.today()
        for mon in dirty.values():
            if self._monitored.get(mon.workflow_id) is mon:
                self._check(mon)
                if self._views_wanted:
                    # Rebuilt here, a few at a time as quotes arrive, so a view refresh never
                    # has to rebuild hundreds of positions in one go.
                    mon.cached_view = mon.view(self._workflows[mon.workflow_id].state, today)

    def _check(self, mon: MonitoredPosition) -> None:
        """Evaluate a position's rules now; hand a triggered action to a task."""
        mon.cached_view = None
        now = self.clock.now()
        acting = mon.evaluate(self.clock.today(), now, self._config.max_quote_age_seconds)
        if acting is None or acting in mon.awaiting:
            return
        if mon.retry_after is not None and now < mon.retry_after:
            return
        rule = mon.rules[acting]
        if rule.action is RuleAction.ALERT:
            if acting not in mon.alerted:
                mon.alerted.add(acting)
                self._rule_fired(mon, rule, "alert", "alert raised")
            return
        mon.acting = True
        self.spawn(self._act(mon.workflow_id, acting), f"rule-{mon.workflow_id}")

    def _rule_fired(self, mon: MonitoredPosition, rule: ManagementRule, action: str,
                    status: str) -> None:
        detail = next((s.description for s in mon.statuses if s.rule_type is rule.rule_type), "")
        now = self.clock.now()
        self.counters[f"rule:{rule.rule_type.value}"] += 1
        self.bus.publish(RuleTriggered(mon.workflow_id, rule.rule_type.value, action, detail, now))
        self._alert("warning" if rule.rule_type in (RuleType.STOP_LOSS, RuleType.DELTA_BREACH)
                    else "info", "rule", f"{mon.symbol}: {rule.rule_type.value}",
                    f"{detail} -> {status}", mon.workflow_id)
        self.spawn(self.store.add_rule_action(mon.workflow_id, rule.rule_type.value, action,
                                              detail, status, now), "rule-action")

    def _may_act_unattended(self, rule: ManagementRule) -> bool:
        return self._armed and (rule.auto or rule.rule_type in self._config.auto_manage
                                or self._config.auto_approve)

    async def _act(self, workflow_id: int, rule_index: int) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is None:
            return
        rule = mon.rules[rule_index]
        try:
            async with self._locks[workflow_id]:
                if self._workflows[workflow_id].state is not WorkflowState.MONITORING:
                    mon.acting = False
                    return
                units = close_quantity(rule, mon.units)
                if units == 0:  # a partial close of a single unit: nothing to take off
                    mon.spent.add(rule_index)
                    mon.acting = False
                    self._rule_fired(mon, rule, "alert", ONE_UNIT)
                    return
                if not self._may_act_unattended(rule):
                    mon.awaiting.add(rule_index)
                    mon.acting = False
                    self._rule_fired(mon, rule, rule.action.value, "awaiting the trader's approval")
                    return
                self._rule_fired(mon, rule, rule.action.value, ACTING)
                if rule.action is RuleAction.ROLL or rule.rule_type is RuleType.ROLL:
                    outcome = await self._roll(mon, f"rule {rule.rule_type.value}",
                                               rule.rule_type.value)
                else:
                    if rule.rule_type is RuleType.PARTIAL_CLOSE:
                        mon.spent.add(rule_index)
                    outcome = await self._close(mon, units, f"rule {rule.rule_type.value}",
                                                rule.rule_type.value)
                if outcome != "sent":
                    mon.acting = False
        except Exception:
            mon.acting = False
            raise

    async def _close(self, mon: MonitoredPosition, units: int, reason: str, rule: str) -> str:
        if mon.natural_close() is None:
            await self._refresh_leg_quotes(mon)
        natural = mon.natural_close()
        mark = mon.mark()
        if natural is None or mark is None:
            return "no quotes for every leg: cannot price the closing order"
        units = max(1, min(units, mon.units))
        purpose = OrderPurpose.CLOSE if units == mon.units else OrderPurpose.PARTIAL_CLOSE
        legs = tuple(OrderLeg(leg.symbol,
                              OrderAction.BUY_TO_CLOSE if leg.ratio < 0 else OrderAction.SELL_TO_CLOSE,
                              abs(leg.ratio) * units) for leg in mon.legs)
        mid = Decimal(str(round(-mark, 2)))
        strategy = self._strategies.get(mon.strategy_name)
        await self._transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE if rule else Actor.USER,
                               f"{reason}: {purpose.value} {units} of {mon.units}",
                               payload={"rule": rule, "units": units})
        start = initial_price(mid, natural, ZERO)
        await self._submit(mon.workflow_id, purpose, mon.symbol, legs, units, start, natural,
                           strategy, None, rule_type=rule)
        return "sent"

    async def _roll(self, mon: MonitoredPosition, reason: str, rule: str) -> str:
        strategy = self._strategies.get(mon.strategy_name)
        if mon.natural_close() is None:
            await self._refresh_leg_quotes(mon)
        natural_close = mon.natural_close()
        mark = mon.mark()
        if strategy is None or natural_close is None or mark is None:
            return "cannot roll: strategy or quotes missing"
        today = self.clock.today()
        current = mon.dte(today)
        dte = DteRange(min=max(strategy.dte.min, current + 1),
                       target=max(strategy.dte.target, current + 7),
                       max=max(strategy.dte.max, current + 14), prefer_monthly=False)
        rolled = dataclasses.replace(strategy, dte=dte,
                                     sizing=dataclasses.replace(strategy.sizing, quantity=mon.units))
        chain = await self._strategy_chain(mon.symbol, rolled)
        try:
            proposal = build_proposal(rolled, chain, self.clock.now(),
                                      max_quote_age_s=self._config.max_quote_age_seconds)
        except SelectionError as exc:
            return f"cannot roll: {exc}"
        close_legs = tuple(OrderLeg(leg.symbol, OrderAction.BUY_TO_CLOSE if leg.ratio < 0
                                    else OrderAction.SELL_TO_CLOSE, abs(leg.ratio) * mon.units)
                           for leg in mon.legs)
        open_legs = self._open_legs(proposal, mon.units)
        mid = (Decimal(str(round(-mark, 2))) + proposal.mid_price).quantize(CENT)
        natural = (natural_close + proposal.natural_price).quantize(CENT)
        proposal_id = await self.store.save_proposal(mon.workflow_id, proposal, None)
        self._proposals[proposal_id] = proposal
        await self._transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE,
                               f"{reason}: roll to {proposal.expiry.isoformat()}",
                               payload={"rule": rule, "roll_proposal": proposal_id},
                               proposal_id=proposal_id)
        await self._submit(mon.workflow_id, OrderPurpose.ROLL, mon.symbol, close_legs + open_legs,
                           mon.units, initial_price(mid, natural, ZERO), natural, strategy, None,
                           proposal_id=proposal_id, rule_type=rule)
        return "sent"

    async def close_position(self, workflow_id: int, user: str, pct: int = 100) -> str:
        if pct not in (25, 50, 75, 100):
            raise EngineError("close percentage must be 25, 50, 75 or 100")
        mon = self._monitored.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        if not self._reconciled:
            raise EngineError("the broker is not reconciled yet")
        if pct != 100 and mon.units < 2:
            raise EngineError("one unit is open: a partial close would close all of it; "
                              "close 100% instead")
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is not WorkflowState.MONITORING or mon.acting:
                return "an action is already in progress for this position"
            mon.acting = True
            units = mon.units if pct == 100 else min(mon.units - 1,
                                                     max(1, mon.units * pct // 100))
            await self.store.audit(user, "close", f"{pct}% ({units} units)", self.clock.now(),
                                   workflow_id)
            outcome = await self._close(mon, units, f"closed by {user}", "")
            if outcome != "sent":
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    async def roll_position(self, workflow_id: int, user: str) -> str:
        mon = self._monitored.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is not WorkflowState.MONITORING or mon.acting:
                return "an action is already in progress for this position"
            mon.acting = True
            await self.store.audit(user, "roll", "manual roll", self.clock.now(), workflow_id)
            outcome = await self._roll(mon, f"rolled by {user}", "")
            if outcome != "sent":
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    async def external_positions(self) -> list[BrokerPosition]:
        """Broker positions no workflow manages: candidates for adoption."""
        held: Counter[str] = Counter()
        for mon in self._monitored.values():
            for leg in mon.legs:
                held[leg.symbol] += leg.quantity
        out = []
        for pos in await self.broker.positions():
            rest = pos.quantity - held.get(pos.symbol, 0)
            if rest != 0 and len(pos.symbol) == 21:
                out.append(dataclasses.replace(pos, quantity=rest))
        return out

    async def adopt_position(self, symbols: Sequence[str], strategy_name: str, user: str) -> int:
        """Take option legs opened outside the app into monitoring under a strategy's rules.

        The legs keep the broker's quantities and average open prices; max profit and loss come
        from the structure's payoff at expiry.
        """
        strategy = self._strategies.get(strategy_name)
        if strategy is None:
            raise EngineError(f"strategy: no strategy named {strategy_name!r}")
        if not symbols:
            raise EngineError("symbols: choose at least one leg to adopt")
        available = {p.symbol: p for p in await self.external_positions()}
        legs = []
        for sym in symbols:
            if sym not in available:
                raise EngineError(f"symbols: {sym.strip()} is not an unmanaged broker position")
            legs.append(available[sym])
        roots = {parse_occ(p.symbol)[0] for p in legs}
        if len(roots) != 1:
            raise EngineError("symbols: adopted legs must share one underlying")
        underlying = roots.pop()
        now = self.clock.now()
        rec = await self.store.create_workflow(underlying, Actor.USER, f"adopted by {user}", now,
                                               strategy_name=strategy_name)
        self._workflows[rec.id] = rec
        for p in legs:
            await self.store.apply_position_fill(rec.id, p.symbol, p.quantity,
                                                 p.average_open_price, now)
        profit, loss = _payoff_extremes(legs)
        await self._transition(rec.id, Trigger.ADOPT, Actor.USER,
                               f"adopted {len(legs)} legs under {strategy_name} by {user}",
                               payload={"symbols": list(symbols), "max_profit": str(profit),
                                        "max_loss": str(loss)})
        await self.store.audit(user, "adopt", ", ".join(s.strip() for s in symbols), now, rec.id)
        await self._load_monitored(rec.id)
        mon = self._monitored.get(rec.id)
        if mon is not None and mon.units:
            mon.max_profit_per_unit = profit / mon.units
            mon.max_loss_per_unit = loss / mon.units
            mon.buying_power_per_unit = loss / mon.units
        return rec.id

    async def cancel_workflow(self, workflow_id: int, user: str, reason: str) -> None:
        if not reason.strip():
            raise EngineError("a reason is required to cancel a workflow")
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state in HOLDING or wf.state is WorkflowState.EXECUTING:
                raise EngineError("close the position (or let the order end) before cancelling")
            await self._transition(workflow_id, Trigger.CANCEL, Actor.USER,
                                   f"cancelled by {user}: {reason}")
            for key in [k for k in self._timers if k[1] == workflow_id]:
                self._timers.pop(key).cancel()


def _payoff_extremes(legs: Sequence[BrokerPosition]) -> tuple[Decimal, Decimal]:
    """Max profit and max loss ($, positive numbers) of option legs held to expiry.

    The payoff is piecewise linear with kinks at the strikes, so its extremes lie at a strike,
    at zero, or at infinity (an unbounded side is reported at five times the highest strike).
    """
    parsed = [(parse_occ(p.symbol), p) for p in legs]
    strikes = sorted({k for (_, _, _, k), _ in parsed})
    entry = sum((-Decimal(p.quantity) * p.average_open_price for _, p in parsed), ZERO) * 100

    def value(price: Decimal) -> Decimal:
        total = entry
        for (_, _, kind, strike), p in parsed:
            intrinsic = max(ZERO, price - strike) if kind.value == "call" else max(
                ZERO, strike - price)
            total += Decimal(p.quantity) * intrinsic * 100
        return total

    points = [ZERO, *strikes, strikes[-1] * 5 if strikes else ZERO]
    values = [value(x) for x in points]
    return max(max(values), ZERO), max(-min(values), ZERO)
