"""The Roll ticket on the paper engine: it shows the new legs and the net price, an edit prices
the roll again (errors on the field), and Send rolls the position through the roll order path."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose
from tastydesk.ui import format as fmt
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.position_monitor import PositionMonitorDock
from tastydesk.ui.widgets.roll_ticket import RollTicket
from tests.conftest import run_coro
from tests.engine.rolls.test_roll_preview import vertical
from tests.ui.engine_kit import wait_for


@pytest.fixture(name="held")
def fixture_held(qloop: Any, qtbot: Any, tmp_path: Path) -> Any:
    """A paper engine (stepped clock) holding one credit spread."""
    engine, driver, pos = run_coro(qtbot, vertical(tmp_path), timeout_ms=60000)
    yield engine, driver, pos
    run_coro(qtbot, engine.stop())


@pytest.fixture(name="dock")
def fixture_dock(qtbot: Any, held: Any) -> PositionMonitorDock:
    engine, _driver, pos = held
    bridge = EngineBridge(engine.facade)
    dock = PositionMonitorDock(engine.facade, bridge)
    qtbot.addWidget(dock)
    dock.refresh()
    assert dock.focus_workflow(pos.workflow_id)
    yield dock
    bridge.dispose()


def _open_ticket(qtbot: Any, dock: PositionMonitorDock) -> RollTicket:
    dock.roll_selected()
    ticket = dock.roll_ticket
    assert ticket is not None and ticket.isVisible()
    wait_for(qtbot, lambda: ticket.preview is not None and not ticket.busy, timeout_s=20)
    return ticket


def _cells(ticket: RollTicket) -> list[list[str]]:
    table = ticket.legs
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_the_ticket_shows_the_new_legs_and_the_net_price(
        qtbot: Any, held: Any, dock: PositionMonitorDock) -> None:
    engine, _driver, pos = held
    ticket = _open_ticket(qtbot, dock)
    p = ticket.preview
    rows = _cells(ticket)
    assert [r[0] for r in rows][:2] in (["Sell to close", "Buy to close"],
                                        ["Buy to close", "Sell to close"])
    assert {r[0] for r in rows[2:]} == {"Sell to open", "Buy to open"}
    assert {r[1] for r in rows[:2]} == {fmt.instrument(leg.symbol) for leg in pos.legs}
    assert rows[2][1].startswith(f"{pos.symbol} {p.expiry.day} {p.expiry:%b %y} ")
    assert ticket.price.text().startswith(f"Net {fmt.price(p.mid)} at mid, "
                                          f"{fmt.price(p.natural)} natural")
    assert f"max loss {fmt.money(p.max_loss, places=0)}" in ticket.risk.text()
    assert "credit collected so far" in ticket.risk.text()
    assert ticket.orders.text().startswith("Sent as one order of 4 legs")
    assert ticket.expiry.currentData() == p.expiry
    assert [c.currentData() for c in ticket.strikes] == [str(leg.strike) for leg in p.opening]
    assert ticket.send_button.isEnabled() and not dock.roll_button.isEnabled()
    ticket.reject()
    wait_for(qtbot, lambda: dock.roll_button.isEnabled(), timeout_s=5)  # the claim is released
    assert not any(o.purpose == OrderPurpose.ROLL for o in engine.facade.orders())


def test_an_edit_prices_the_roll_again_and_errors_land_on_the_field(
        qtbot: Any, dock: PositionMonitorDock) -> None:
    ticket = _open_ticket(qtbot, dock)
    first = ticket.preview
    combo = ticket.strikes[0]
    # One strike further from the money on the short leg: a different roll, a new price.
    index = combo.currentIndex() + (-1 if first.opening[0].option_type.value == "put" else 1)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert not ticket.send_button.isEnabled()  # nothing goes out while it is being priced
    wait_for(qtbot, lambda: ticket.preview is not first and not ticket.busy, timeout_s=20)
    second = ticket.preview
    assert second.opening[0].strike == Decimal(combo.currentData())
    assert second.opening[0].strike != first.opening[0].strike
    assert ticket.price.text().startswith(f"Net {fmt.price(second.mid)} at mid")
    # More units than the position holds: priced for the new quantity.
    ticket.quantity.setValue(2)
    wait_for(qtbot, lambda: ticket.preview is not second and not ticket.busy, timeout_s=20)
    assert ticket.preview.quantity == 2 and ticket.preview.opening[0].quantity == 2
    # A limit of zero is refused by the engine, on the limit field.
    ticket.limit.setValue(0.0)
    error = ticket.errors["limit"]
    wait_for(qtbot, lambda: error.isVisibleTo(ticket), timeout_s=20)
    assert error.text().startswith("must not be zero")
    assert not ticket.send_button.isEnabled()
    ticket.reject()


def test_send_rolls_the_position_as_the_ticket_shows_it(
        qtbot: Any, held: Any, dock: PositionMonitorDock) -> None:
    engine, driver, pos = held
    ticket = _open_ticket(qtbot, dock)
    index = ticket.expiry.currentIndex() + 1  # one expiry later than the strategy's choice
    ticket.expiry.setCurrentIndex(index)
    ticket.expiry.activated.emit(index)
    wait_for(qtbot, lambda: ticket.preview.expiry == ticket.expiry.itemData(index)
             and not ticket.busy, timeout_s=20)
    shown = ticket.preview
    assert ticket.send_button.isEnabled()
    ticket.send_button.click()
    assert ticket.result() == QDialog.DialogCode.Accepted
    wid = pos.workflow_id

    def roll_orders() -> list[Any]:
        return [o for o in engine.facade.orders() if o.workflow_id == wid
                and o.purpose == OrderPurpose.ROLL]

    wait_for(qtbot, lambda: bool(roll_orders()), timeout_s=20)
    order = next(o for o in run_coro(qtbot, engine.store.orders(wid))
                 if o.purpose is OrderPurpose.ROLL)
    opened = {leg.symbol for leg in order.legs
              if leg.action in (OrderAction.SELL_TO_OPEN, OrderAction.BUY_TO_OPEN)}
    assert opened == {leg.symbol for leg in shown.opening}
    assert any(t.reason.startswith("rolled by ") for t in engine.facade.transitions(wid))
    for _ in range(60):  # the paper market fills it: the position now holds the new legs
        driver.advance(300)
        run_coro(qtbot, engine.tasks.drain())
        view = next((v for v in engine.facade.positions() if v.workflow_id == wid), None)
        if view is not None and {leg.symbol for leg in view.legs} == opened:
            break
    assert view is not None and {leg.symbol for leg in view.legs} == opened


def test_a_roll_the_pre_trade_checks_refuse_says_why_and_cannot_be_sent(
        qtbot: Any, held: Any, dock: PositionMonitorDock) -> None:
    engine, _driver, pos = held
    strategy = next(s for s in engine.facade.strategies() if s.name == pos.strategy_name)
    run_coro(qtbot, engine.facade.save_strategy(dataclasses.replace(
        strategy, sizing=dataclasses.replace(strategy.sizing, max_buying_power=Decimal("100"))),
        "tester"))
    ticket = _open_ticket(qtbot, dock)
    assert ticket.problem.isVisibleTo(ticket)
    assert ticket.problem.text() == ("Send would be refused: buying power "
                                     f"{ticket.preview.buying_power} above the per-trade "
                                     "maximum 100")
    assert not ticket.send_button.isEnabled()
    ticket.send()  # nothing is accepted while the checks refuse it
    assert ticket.edits is None and ticket.isVisible()
    ticket.reject()
