"""The Approval Queue in the trader's time: the approval window counts down in real time,
whatever the paper speed, in its own Expires column; an approval carries the trader's limit, so a
market within it sends and only a move beyond it brings the trade back, with a banner."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tastydesk.engine.clock import SimClock
from tastydesk.engine.domain.enums import StreamHealth, WorkflowState
from tastydesk.engine.domain.events import Alert, WorkflowChanged
from tastydesk.ui import format as fmt
from tastydesk.ui.bridge import EngineBridge
from tastydesk.ui.docks.approval_queue import ApprovalQueueDock
from tastydesk.ui.main_window import MainWindow
from tastydesk.ui.models.proposals import countdown
from tests.conftest import run_coro
from tests.engine.approvals.test_approval_desk import LONG, SHORT, pending
from tests.kit.world import START, World, world
from tests.ui.engine_kit import DialogAnswerer, open_paper_kernel
from tests.ui.factories import T0
from tests.ui.factories import pending as pending_view
from tests.ui.fake_facade import FakeFacade


@pytest.fixture(name="fake")
def fixture_fake(qloop: Any) -> FakeFacade:
    return FakeFacade()


def _cell(dock: ApprovalQueueDock, row: int, key: str) -> str:
    proxy = dock.table.proxy
    return str(proxy.index(row, dock.model.column_index(key)).data())


def test_countdown_reads_minutes_and_seconds() -> None:
    assert [countdown(s) for s in (300, 299.6, 7, 0, -3, None, 3725)] == [
        "5:00", "4:59", "0:07", "expired", "expired", "\u2014", "1h 02m"]


def test_expires_column_counts_down_on_the_wall_clock_not_paper_time(
        qtbot: Any, fake: FakeFacade) -> None:
    fake.pending_views = [dataclasses.replace(pending_view(1), expires_at=T0 + timedelta(minutes=5))]
    bridge = EngineBridge(fake)
    dock = ApprovalQueueDock(fake, bridge)
    qtbot.addWidget(dock)
    assert _cell(dock, 0, "expires") == "5:00"
    fake.clock.advance(T0 + timedelta(hours=1))  # an hour of paper time changes nothing
    qtbot.wait(1200)  # past a countdown tick
    assert _cell(dock, 0, "expires") == "5:00"
    fake.wall_clock.advance(T0 + timedelta(seconds=90))
    qtbot.waitUntil(lambda: _cell(dock, 0, "expires") == "3:30", timeout=3000)
    dock.table.selectRow(0)
    assert "expires in 3:30 (real time)" in dock.detail.title_label.text()
    bridge.dispose()


def test_pending_chip_follows_workflow_changes_and_streams_chip_is_coloured(
        qtbot: Any, fake: FakeFacade) -> None:
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    assert window.chips["pending"].text() == "Pending 0"
    fake.pending_views = [pending_view(i) for i in range(1, 8)]
    for i in range(1, 8):  # a burst of proposals: the chip follows without waiting for ticks
        fake.bus.publish(WorkflowChanged(i, "SPY", WorkflowState.PENDING_APPROVAL,
                                         WorkflowState.SCANNING, "proposed", T0))
    QApplication.processEvents()  # one turn of the loop, not the five ticks of the old refresh
    assert window.chips["pending"].text() == "Pending 7"
    fake.stream_health = {"market": StreamHealth.CONNECTED, "account": StreamHealth.STALE}
    window.refresh_status()
    chip = window.chips["streams"]
    assert chip.textFormat() == Qt.TextFormat.RichText
    assert "color:" in chip.text() and "Market" in chip.text()
    assert "Account: stale" in chip.toolTip()


# ---- the real kernel (scripted broker, real store) behind the real dock, paper time at x60

SPEED = 60


def _requote(w: World, short_mid: str) -> None:
    """The legs' market now: the long leg steady, the short leg's mid at ``short_mid``."""
    (view, *_rest) = w.kernel.facade.pending()
    short, long_ = view.proposal.legs
    mid = Decimal(short_mid)
    w.broker.quote(SHORT, short.streamer_symbol, str(mid - Decimal("0.02")),
                   str(mid + Decimal("0.02")))
    w.broker.quote(LONG, long_.streamer_symbol, "1.08", "1.12")


def _real_seconds(qtbot: Any, w: World, wall: SimClock, seconds: int, short_mid: str) -> None:
    """``seconds`` of the trader's time: the wall clock moves by them, paper time 60 times as
    far, and the legs keep streaming."""
    wall.advance(wall.now() + timedelta(seconds=seconds))
    _requote(w, short_mid)
    run_coro(qtbot, w.step(seconds * SPEED))
    _requote(w, short_mid)
    run_coro(qtbot, w.step())


@pytest.fixture(name="desk")
def fixture_desk(qloop: Any, qtbot: Any, tmp_path: Any) -> Iterator[tuple[World, SimClock,
                                                                          ApprovalQueueDock]]:
    wall = SimClock(START)
    w = run_coro(qtbot, world(tmp_path, wall=wall))
    w.clock.set_speed(SPEED)
    bridge = EngineBridge(w.kernel.facade)
    dock = ApprovalQueueDock(w.kernel.facade, bridge)
    qtbot.addWidget(dock)
    dock.resize(1200, 700)
    dock.show()
    yield w, wall, dock
    bridge.dispose()
    run_coro(qtbot, w.close())


def _approve_in_dock(qtbot: Any, dock: ApprovalQueueDock, wid: int) -> None:
    dock.refresh()
    assert dock.focus_workflow(wid)
    assert dock.approve_button.isEnabled()
    with DialogAnswerer("Approve & send"):
        dock.approve_button.click()
        qtbot.waitUntil(lambda: not dock.runner.in_flight(wid), timeout=10000)


def test_at_x60_an_approval_holds_for_its_real_window_and_within_the_limit_sends(
        qtbot: Any, desk: tuple[World, SimClock, ApprovalQueueDock]) -> None:
    w, wall, dock = desk
    wid = run_coro(qtbot, pending(w))
    window = w.kernel.settings.config.approval_expiry_minutes * 60
    for _ in range(window // 30 - 1):  # 4.5 real minutes: 4.5 paper hours at x60
        _real_seconds(qtbot, w, wall, 30, "1.45")
        dock.refresh()
        assert dock.focus_workflow(wid) and dock.approve_button.isEnabled()
        assert _cell(dock, 0, "expires") != "expired"
    assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL
    _real_seconds(qtbot, w, wall, 20, "1.42")  # the mid moved 0.03 against: within the limit
    _approve_in_dock(qtbot, dock, wid)
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    (order,) = w.broker.placed
    # worked from the current mid (0.32: the short leg's 1.42 less the long's 1.10), within
    # the limit the trader approved (the proposal's natural)
    assert order.price == Decimal("0.32")
    assert not dock.detail.returned_banner.isVisible()
    assert "repriced" not in dock.status_label.text()


def test_at_x60_a_move_beyond_the_limit_brings_the_trade_back_with_a_banner(
        qloop: Any, qtbot: Any, tmp_path: Any) -> None:
    kernel = open_paper_kernel(qtbot, tmp_path / "data")
    facade = kernel.facade
    run_coro(qtbot, facade.update_config(
        dataclasses.replace(facade.config(), reprice_tolerance=Decimal("0")), "tester"))
    bridge = EngineBridge(facade)
    dock = ApprovalQueueDock(facade, bridge)
    qtbot.addWidget(dock)
    dock.show()
    try:
        qtbot.waitUntil(lambda: len(facade.pending()) >= 1, timeout=90000)
        kernel.clock.set_speed(SPEED)
        view = facade.pending()[0]
        wid, first = view.workflow_id, view.proposal
        moved: list[Decimal] = []

        def moved_against() -> bool:
            fresh = run_coro(qtbot, kernel.desk.current_prices(first))
            if fresh is not None and fresh.mid < first.mid_price:
                moved.append(fresh.mid)
                kernel.clock.set_speed(0)  # the market holds still while the trader decides
                return True
            return False

        qtbot.waitUntil(moved_against, timeout=120000)
        alerts: list[Alert] = []
        facade.bus.subscribe(Alert, alerts.append)
        _approve_in_dock(qtbot, dock, wid)
        assert [o for o in facade.orders() if o.workflow_id == wid] == []
        old, new = fmt.price(first.mid_price), fmt.price(moved[0])
        assert any(a.title.startswith("Trade returned") and f"from {old} to {new}" in a.message
                   for a in alerts), [a.message for a in alerts]
        reasons = [t.reason for t in facade.transitions(wid)]
        assert any(r.startswith("approved by") and "not sent: mid moved" in r for r in reasons)
        if wid not in {v.workflow_id for v in facade.pending()}:
            pytest.skip("no candidate qualified after the move: the trade was withdrawn")
        dock.refresh()
        assert dock.focus_workflow(wid)
        assert dock.detail.returned_banner.isVisible()
        assert f"from {old} to {new}" in dock.detail.returned_banner.text()
        assert _cell(dock, dock.table.proxy.mapFromSource(
            dock.model.index(dock.model.position(wid), 0)).row(), "symbol").startswith("\u21a9")
    finally:
        bridge.dispose()
        run_coro(qtbot, kernel.stop())


def test_new_proposals_keep_the_selection_and_the_open_detail(qtbot: Any,
                                                             fake: FakeFacade) -> None:
    fake.pending_views = [pending_view(1, "SPY"), pending_view(2, "QQQ")]
    bridge = EngineBridge(fake)
    dock = ApprovalQueueDock(fake, bridge)
    qtbot.addWidget(dock)
    assert dock.focus_workflow(2)
    shown = dock.detail.shown
    assert shown is not None and shown.workflow_id == 2
    fake.pending_views = [*fake.pending_views, *(pending_view(i, "IWM", age_s=0)
                                                 for i in range(3, 9))]
    dock.refresh()
    assert dock.model.rowCount() == 8
    assert [v.workflow_id for v in dock.table.selected_rows()] == [2]
    assert dock.detail.shown is shown  # not redrawn: the same trade stays open
    assert dock.detail.title_label.text().startswith("QQQ")
    bridge.dispose()


def test_negative_expected_value_is_flagged_and_can_be_hidden(qtbot: Any,
                                                             fake: FakeFacade) -> None:
    losing = pending_view(2, "QQQ")
    losing = dataclasses.replace(losing, proposal=dataclasses.replace(
        losing.proposal, expected_value=Decimal("-3.10")))
    fake.pending_views = [pending_view(1, "SPY"), losing]
    bridge = EngineBridge(fake)
    dock = ApprovalQueueDock(fake, bridge)
    qtbot.addWidget(dock)
    row = dock.table.proxy.mapFromSource(dock.model.index(dock.model.position(2), 0)).row()
    assert _cell(dock, row, "ev") == "\u2212$3.10"
    assert _cell(dock, row, "warnings") == "1"
    assert dock.focus_workflow(2)
    assert dock.detail.warnings_banner.text().startswith("\u26a0 negative expected value")
    assert not dock.detail.warnings_banner.isHidden()
    dock.hide_negative_ev.setChecked(True)
    assert dock.table.proxy.rowCount() == 1
    assert _cell(dock, 0, "symbol") == "SPY"
    dock.hide_negative_ev.setChecked(False)
    assert dock.table.proxy.rowCount() == 2
    bridge.dispose()


def test_unmanaged_positions_are_listed_and_adopted_under_a_strategy(
        qtbot: Any, fake: FakeFacade) -> None:
    from tastydesk.engine.domain.account import BrokerPosition
    from tastydesk.ui.docks.position_monitor import PositionMonitorDock

    short, long_ = "NVDA  270115C00175000", "NVDA  270115C00180000"
    fake.external_views = [BrokerPosition(short, "NVDA", -1, Decimal("6.10")),
                           BrokerPosition(long_, "NVDA", 1, Decimal("4.00"))]
    bridge = EngineBridge(fake)
    dock = PositionMonitorDock(fake, bridge)
    qtbot.addWidget(dock)
    dock.detail_tabs.setCurrentWidget(dock.unmanaged)
    unmanaged = dock.unmanaged
    qtbot.waitUntil(lambda: unmanaged.model.rowCount() == 2, timeout=5000)
    assert unmanaged.note.text().startswith("2 legs held at the broker")
    assert not unmanaged.adopt_button.isEnabled()
    unmanaged.table.selectAll()
    assert unmanaged.adopt_button.isEnabled()
    with DialogAnswerer("Adopt"):
        unmanaged.adopt_button.click()
    qtbot.waitUntil(lambda: bool(fake.called("adopt_position")), timeout=5000)
    [(symbols, strategy, _user)] = fake.called("adopt_position")
    assert sorted(symbols) == sorted([short, long_])
    assert strategy == fake.strategies()[0].name
    bridge.dispose()


def test_the_detail_of_a_follow_up_lists_its_shares_as_a_leg(qtbot: Any,
                                                           fake: FakeFacade) -> None:
    """A close after an assignment trades the long put and 100 shares: both are rows of the
    legs table, the shares per share with delta 1 and no option figures."""
    from tastydesk.engine.domain.enums import AfterAssignment, Side
    from tastydesk.engine.domain.proposal import ShareLeg

    view = pending_view(1)
    put = dataclasses.replace(view.proposal.legs[1], side=Side.SELL)
    follow_up = dataclasses.replace(
        view.proposal, legs=(put,), follow_up=AfterAssignment.CLOSE,
        shares=(ShareLeg("SPY", Side.SELL, 100, Decimal("600.00"), Decimal("600.10"),
                         Decimal("600.05")),))
    fake.pending_views = [dataclasses.replace(view, proposal=follow_up)]
    bridge = EngineBridge(fake)
    dock = ApprovalQueueDock(fake, bridge)
    qtbot.addWidget(dock)
    assert dock.focus_workflow(1)
    legs = dock.detail.legs

    def cells(row: int) -> list[str]:
        return [str(legs.index(row, legs.column_index(key)).data())
                for key in ("side", "leg", "bid", "ask", "mid", "delta", "theta", "iv", "oi")]

    assert legs.rowCount() == 2
    assert cells(0)[:2] == [f"{Side.SELL} 1", "SPY 18 Dec 26 555 P"]
    assert cells(1) == [f"{Side.SELL} 100", "SPY shares", "600.00", "600.10", "600.05",
                        "1.000", "", "", ""]
    tip = legs.index(1, legs.column_index("leg")).data(Qt.ItemDataRole.ToolTipRole)
    assert "multiplier 1" in tip
    bridge.dispose()
