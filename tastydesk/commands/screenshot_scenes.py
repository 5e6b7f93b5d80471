"""The lifecycle scenes of ``tastydesk screenshot``, played on the running paper engine.

Positions opened at the paper broker the way a trader opens them elsewhere, then adopted:

* **Assignment risk**: a short call in the money on a dividend payer whose ex-date falls before
  the expiration, and a short put deep in the money in the nearest expiration. The Position
  Monitor shows per short leg: in the money, extrinsic value, days to the ex-date.
* **Follow-up after an assignment**: the paper clock runs until the broker assigns the short put
  (its spread keeps a long put of a later expiration); the app proposes the strategy's follow-up
  into the approval queue with its rationale.

Nothing is painted: what the pictures show is what the engine did with those positions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.chain import OptionChain, OptionContract
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction
from tastydesk.engine.domain.ids import ExternalOrderId
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

USER = "screenshot"
FAST = 20000.0  # paper speed while waiting for the assignment
RISK_PNG = "position_monitor_assignment_risk.png"
FOLLOW_UP_PNG = "approval_queue_follow_up.png"
THROUGH = Decimal("0.50")  # marketable: half a dollar through the touch


def _strike_near(contracts: list[OptionContract], target: Decimal) -> OptionContract:
    return min(contracts, key=lambda c: abs(c.strike - target))


async def _open(kernel: Any, underlying: str, contract: OptionContract, sell: bool) -> None:
    """A marketable single-leg opening order at the paper broker (a trade made elsewhere)."""
    q = contract.quote
    assert q is not None
    action = OrderAction.SELL_TO_OPEN if sell else OrderAction.BUY_TO_OPEN
    price = q.bid - THROUGH if sell else -(q.ask + THROUGH)
    result = await kernel.broker.place(OrderRequest(
        underlying, (OrderLeg(contract.symbol, action, 1),), price,
        ExternalOrderId(f"elsewhere-{contract.symbol.replace(' ', '')}")))
    if result.outcome is not CommandOutcome.ACCEPTED:
        raise RuntimeError(f"{contract.symbol}: {result.reason}")


async def _dividend_payer(kernel: Any) -> tuple[str, int] | None:
    """The watchlist name whose next ex-date comes first, and the days to it."""
    today = kernel.clock.today()
    infos = await kernel.broker.market_metrics(list(kernel.settings.config.watchlist))
    dated = [(info.ex_dividend_date, symbol) for symbol, info in infos.items()
             if info.ex_dividend_date is not None and info.dividend_amount
             and info.ex_dividend_date > today]
    if not dated:
        return None
    ex_date, symbol = min(dated)
    return symbol, (ex_date - today).days


async def seed(kernel: Any, wait: Callable[[float], Awaitable[None]]) -> dict[str, int]:
    """Open and adopt the scenes' positions; returns their workflow ids by scene."""
    chain: OptionChain = await kernel.broker.option_chain("SPY", 1, 60)
    spot = chain.underlying.price
    first, later = chain.expirations[0], chain.expirations[-1]
    short_put = _strike_near([s.put for s in first.strikes], spot * Decimal("1.04"))
    long_put = _strike_near([s.put for s in later.strikes], spot * Decimal("0.95"))
    await _open(kernel, "SPY", short_put, sell=True)
    await _open(kernel, "SPY", long_put, sell=False)
    legs = {"assigned": [short_put.symbol, long_put.symbol]}
    payer = await _dividend_payer(kernel)
    if payer is not None:
        symbol, days = payer
        calls = await kernel.broker.option_chain(symbol, days + 1, days + 50)
        if calls.expirations:
            exp = calls.expirations[0]
            price = calls.underlying.price
            short_call = _strike_near([s.call for s in exp.strikes], price * Decimal("0.97"))
            long_call = _strike_near([s.call for s in exp.strikes], price * Decimal("1.03"))
            await _open(kernel, symbol, short_call, sell=True)
            await _open(kernel, symbol, long_call, sell=False)
            legs["dividend"] = [short_call.symbol, long_call.symbol]
    await wait(3.0)  # the broker fills them on its next steps
    ids = {}
    strategies = {"assigned": "Put Credit Spread - 30 DTE",
                  "dividend": "Call Credit Spread - 30 DTE"}
    held = {p.symbol for p in await kernel.facade.external_positions()}
    for scene, symbols in legs.items():
        if all(s in held for s in symbols):
            ids[scene] = await kernel.facade.adopt_position(symbols, strategies[scene], USER)
            # The scene shows what the broker does, not what a rule decides meanwhile.
            await kernel.facade.set_rules_paused(ids[scene], True, USER)
    return ids


async def _grab(dock: Any, path: Path, size: tuple[int, int],
                settle: Callable[..., Awaitable[None]]) -> None:
    """The dock on its own at ``size`` (every column of its tables in view), then back."""
    dock.setFloating(True)
    dock.resize(*size)
    dock.show()
    dock.raise_()
    await settle(0.8)
    dock.grab().save(str(path))
    dock.setFloating(False)
    await settle(0.2)


async def capture(kernel: Any, window: Any, out: Path, settle: Callable[..., Awaitable[None]],
                  timeout: float, size: tuple[int, int]) -> list[str]:
    """Play both scenes and write their PNGs at ``size``; returns what could not be shown."""
    facade = kernel.facade
    config = facade.config()
    await facade.update_config(dataclasses.replace(config, paper_speed=60.0), USER)
    ids = await seed(kernel, settle)
    missing = []
    dock = window.position_dock
    dock.show()
    dock.raise_()
    await settle(1.0)
    focus = ids.get("dividend", ids.get("assigned"))
    if focus is None or not dock.focus_workflow(focus):
        missing.append("assignment-risk positions")
    await _grab(dock, out / RISK_PNG, size, settle)
    wid = ids.get("assigned")
    if wid is None:
        return [*missing, "the spread to assign"]
    await facade.update_config(dataclasses.replace(config, paper_speed=FAST), USER)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(p.workflow_id == wid
                                                  for p in facade.pending()):
        await asyncio.sleep(0.25)
    await facade.update_config(dataclasses.replace(config, paper_speed=1.0), USER)
    queue = window.approval_dock
    queue.show()
    queue.raise_()
    await settle(0.5)
    if not queue.table.select_key(wid):
        missing.append("a follow-up proposal after an assignment")
    await _grab(queue, out / FOLLOW_UP_PNG, size, settle)
    return missing
