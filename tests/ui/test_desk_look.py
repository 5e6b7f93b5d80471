"""What the desk shows at the sizes traders use: the approval legs with their prices in view,
the rationale across the detail pane, and engine times in the display zone."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import Any

from tastydesk.ui import format as fmt
from tastydesk.ui.main_window import MainWindow
from tests.ui.factories import pending
from tests.ui.fake_facade import FakeFacade


def test_the_legs_show_their_prices_and_the_rationale_spans_the_pane(
        qloop: Any, qtbot: Any) -> None:
    fake = FakeFacade()
    fake.pending_views = [pending(1)]
    window = MainWindow(fake, tray_available=False)
    qtbot.addWidget(window)
    window.resize(1600, 980)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(100)
    detail = window.approval_dock.detail
    assert window.approval_dock.focus_workflow(1)
    qtbot.wait(50)
    table = detail.legs_table
    header, shown = table.horizontalHeader(), table.viewport().width()
    for key in ("leg", "bid", "ask", "mid", "delta"):
        column = detail.legs.column_index(key)
        right = header.sectionViewportPosition(column) + header.sectionSize(column)
        assert right <= shown, f"{key} is cut off ({right} > {shown} px)"
    rationale = detail.findChildren(type(detail.title_label))
    why = next(label for label in rationale if label.text() == "trend up; IV rank 45")
    bias = next(label for label in rationale if label.text() == "bullish")
    assert why.width() > 2 * bias.width()  # its own row, not a third of the pane


def test_engine_times_show_in_the_display_zone(qloop: Any) -> None:
    fmt.set_local_time(False)
    assert fmt.zoned_text("reconciled at 2026-01-05 14:35:00; differences decided") == (
        "reconciled at 2026-01-05 09:35:00 ET; differences decided")
    assert fmt.zoned_text("at 2026-01-05 14:35:00 ET") == "at 2026-01-05 14:35:00 ET"
    assert fmt.zoned_text("no time here") == "no time here"


def test_an_unticked_box_is_visible_in_the_dark_theme(qtbot: Any) -> None:
    """Fusion draws the box's outline a shade off the dark window: "Hide negative EV" or an
    unticked bias read as bare text. The dark style sheet outlines it."""
    from PySide6.QtWidgets import QApplication, QCheckBox

    from tastydesk.ui.theme import apply_theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        apply_theme(app, "dark")
        box = QCheckBox("Hide negative EV")
        qtbot.addWidget(box)
        box.show()
        qtbot.waitExposed(box)
        image = box.grab().toImage()
        back = app.palette().color(app.palette().ColorRole.Window).lightness()
        indicator = [image.pixelColor(x, y).lightness() for x in range(min(20, image.width()))
                     for y in range(image.height())]
        assert max(indicator) - back > 60  # an outline well off the background
    finally:
        apply_theme(app, "light")


def test_a_follow_up_shows_dashes_not_zeros_and_ev_stays_beside_the_figures(
        qloop: Any, qtbot: Any) -> None:
    """A close after an assignment has no profit target, odds or bias confidence: the queue
    shows a dash, where a new trade shows its figures; the EV column keeps its width."""
    import dataclasses
    from decimal import Decimal

    from tastydesk.engine.domain.enums import AfterAssignment
    from tastydesk.ui.bridge import EngineBridge
    from tastydesk.ui.docks.approval_queue import ApprovalQueueDock

    fake = FakeFacade()
    new = pending(1)
    follow = pending(2)
    follow = dataclasses.replace(follow, proposal=dataclasses.replace(
        follow.proposal, follow_up=AfterAssignment.CLOSE, pop=0.0, confidence=0.0,
        risk_reward=0.0, max_profit=Decimal("0")))
    fake.pending_views = [new, follow]
    dock = ApprovalQueueDock(fake, EngineBridge(fake))
    qtbot.addWidget(dock)
    dock.resize(2400, 600)
    dock.show()
    qtbot.waitExposed(dock)
    model = dock.model

    def cell(row: int, key: str) -> str:
        return model.data(model.index(row, model.column_index(key)))

    by_id = {model.row_at(r).workflow_id: r for r in range(model.rowCount())}
    for key in ("max_profit", "rr", "pop", "confidence", "bias"):
        assert cell(by_id[2], key) == fmt.DASH, key
        assert cell(by_id[1], key) not in (fmt.DASH, ""), key
    header = dock.table.horizontalHeader()
    assert header.sectionSize(model.column_index("ev")) < 120
    assert dock.focus_workflow(2)
    detail = dock.detail
    assert [detail.fact(n) for n in ("Touch prob.", "IV rank", "Bias", "Confidence")] == \
        [fmt.DASH] * 4
    legs = detail.legs_table.horizontalHeader()
    assert legs.sectionSize(detail.legs.column_index("oi")) < 120
    assert dock.focus_workflow(1) and detail.fact("Bias") == "bullish"


def test_an_empty_table_says_why_it_is_empty(qloop: Any, qtbot: Any) -> None:
    """No pending trade, no error, no closed trade: each table says so in its viewport; a
    filter hiding every row says that instead."""
    from tastydesk.ui.bridge import EngineBridge
    from tastydesk.ui.docks.approval_queue import ApprovalQueueDock
    from tastydesk.ui.docks.workflow_status import WorkflowStatusDock

    fake = FakeFacade()
    bridge = EngineBridge(fake)
    queue = ApprovalQueueDock(fake, bridge)
    status = WorkflowStatusDock(fake, bridge)
    for dock in (queue, status):
        qtbot.addWidget(dock)
    assert queue.table.shown_empty_text().startswith("No trade waiting for approval")
    assert status.errors_table.shown_empty_text() == "No errors recorded."
    assert status.journal_table.shown_empty_text() == "No closed trade yet."
    fake.pending_views = [pending(1)]
    queue.refresh()
    assert queue.table.shown_empty_text() == ""
    queue.filter_edit.setText("no such symbol")
    assert queue.table.shown_empty_text() == "No row matches the filter."
    queue.show()
    qtbot.waitExposed(queue)
    image = queue.table.viewport().grab().toImage()  # the note is drawn, not only answered
    base = image.pixelColor(image.width() // 2, image.height() - 2)
    assert any(image.pixelColor(x, y) != base for x in range(image.width())
               for y in range(8, 30))


def test_no_splitter_of_the_desk_collapses_a_pane(qloop: Any, qtbot: Any) -> None:
    """Dragging a splitter handle to the end shrinks a pane to its minimum, never to nothing
    (a collapsed detail pane or chart looks like a missing one)."""
    from PySide6.QtWidgets import QSplitter

    window = MainWindow(FakeFacade(), tray_available=False)
    qtbot.addWidget(window)
    splitters = window.findChildren(QSplitter)
    assert len(splitters) >= 8
    collapsible = [s.objectName() or type(s.parent()).__name__ for s in splitters
                   if s.childrenCollapsible()]
    assert collapsible == []
