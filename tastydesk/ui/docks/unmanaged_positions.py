"""Positions held at the broker that no workflow owns (opened outside the app), and adopting
them under a strategy so its rules monitor them like any other position."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.facade import EngineFacade
from tastydesk.ui import format as fmt
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.models.base import RIGHT, Column, KeyedTableModel
from tastydesk.ui.read_only import lock_writes
from tastydesk.ui.widgets.table import KeyedTableView

LOAD = "unmanaged.load"


def _leg(p: BrokerPosition) -> str:
    try:
        root, expiry, kind, strike = parse_occ(p.symbol)
    except ValueError:
        return p.symbol
    return fmt.leg_name(root, expiry, kind, strike)


UNMANAGED_COLUMNS: list[Column[BrokerPosition]] = [
    Column("underlying", "Underlying", lambda p: p.underlying, width=80),
    Column("leg", "Leg", _leg, width=180, tooltip=lambda p: f"OCC {' '.join(p.symbol.split())}"),
    Column("quantity", "Qty", lambda p: p.quantity, lambda q: f"{q:+d}", align=RIGHT, width=50,
           header_tip="Signed: short negative"),
    Column("open", "Avg open", lambda p: p.average_open_price, lambda x: f"{x:.2f}",
           align=RIGHT, width=70),
    Column("mark", "Mark", lambda p: p.mark, lambda x: "\u2014" if x is None else f"{x:.2f}",
           align=RIGHT, width=70),
]


class AdoptDialog(QDialog):
    """Choose the strategy whose rules will manage the adopted legs."""

    def __init__(self, parent: QWidget | None, legs: list[BrokerPosition],
                 strategies: list[str]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Adopt under strategy")
        self.setObjectName("dialog.adopt")
        layout = QVBoxLayout(self)
        summary = QLabel("Monitor these legs with a strategy's rules (target, stop, exits):\n"
                         + "\n".join(f"  {p.quantity:+d} \u00d7 {_leg(p)} at "
                                     f"{p.average_open_price:.2f}" for p in legs))
        summary.setWordWrap(True)
        layout.addWidget(summary)
        form = QFormLayout()
        self.strategy_combo = QComboBox()
        self.strategy_combo.setObjectName("adopt.strategy")
        self.strategy_combo.addItems(strategies)
        form.addRow("Strategy", self.strategy_combo)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        adopt = buttons.addButton("Adopt", QDialogButtonBox.ButtonRole.AcceptRole)
        adopt.setEnabled(bool(strategies))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def strategy(self) -> str:
        return self.strategy_combo.currentText()


class UnmanagedPositions(QWidget):
    """The broker's unmanaged legs with Refresh and "Adopt under strategy..."."""

    def __init__(self, engine: EngineFacade, runner: CommandRunner,
                 on_status: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("positions.unmanaged")
        self._engine = engine
        self._runner = runner
        self._status = on_status
        self.model: KeyedTableModel[BrokerPosition] = KeyedTableModel(
            UNMANAGED_COLUMNS, key=lambda p: p.symbol, parent=self)
        self.table = KeyedTableView(self.model, "positions.unmanaged_table", multi_select=True,
                                    sort_column="underlying")
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("positions.unmanaged_refresh")
        self.refresh_button.clicked.connect(self.load)
        self.adopt_button = QPushButton("Adopt under strategy\u2026")
        self.adopt_button.setObjectName("positions.adopt")
        self.adopt_button.setToolTip("Monitor the selected legs (one underlying) with a "
                                     "strategy's rules")
        self.adopt_button.clicked.connect(self.adopt_selected)
        self.note = QLabel("Legs held at the broker that no workflow manages.")
        bar = QHBoxLayout()
        bar.addWidget(self.note, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.adopt_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._update()

    def load(self) -> None:
        """Ask the broker for the unmanaged legs (a command: it reads the broker)."""
        self._runner.run(LOAD, self._engine.external_positions, on_success=self._show)

    def _show(self, positions: Any) -> None:
        self.model.sync(list(positions or ()))
        count = self.model.rowCount()
        self.note.setText(f"{count} leg{'s' if count != 1 else ''} held at the broker that no "
                          "workflow manages." if count else
                          "Every position at the broker is managed by a workflow.")
        self._update()

    def _update(self) -> None:
        selected = [p for p in self.table.selected_rows() if p is not None]
        self.adopt_button.setEnabled(bool(selected)
                                     and len({p.underlying for p in selected}) == 1)
        lock_writes(self._engine, self.adopt_button)

    def adopt_selected(self) -> None:
        legs = [p for p in self.table.selected_rows() if p is not None]
        if not legs or len({p.underlying for p in legs}) != 1:
            return
        dialog = AdoptDialog(self, legs, [s.name for s in self._engine.strategies()])
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        symbols, name, user = [p.symbol for p in legs], dialog.strategy, current_user()
        self._runner.run(("adopt", legs[0].underlying),
                         lambda: self._engine.adopt_position(symbols, name, user),
                         on_success=lambda wid: (self._status(
                             f"Adopted {legs[0].underlying} under {name} as workflow #{wid}"),
                             self.load()))
