"""Field editors: how one kind of strategy value is shown, read back and watched.

An editor makes its widget, writes a value into it without announcing a change (loading is not
editing), reads the value back, connects the widget's change signal, and names the widget that
carries an error for a sub-path (``dte.min`` is the DTE editor's min spin box).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from tastydesk.engine.domain.enums import Bias
from tastydesk.engine.domain.strategy import DteRange
from tastydesk.ui.builder.tables import LegsPanel, RulesPanel
from tastydesk.ui.widgets.strategy_dte import DteRangeEditor

Slot = Callable[..., None]


class Editor(ABC):
    """How a field's value lives in a widget."""

    @abstractmethod
    def create(self) -> QWidget: ...

    @abstractmethod
    def read(self, widget: Any) -> Any: ...

    @abstractmethod
    def write(self, widget: Any, value: Any) -> None:
        """Show ``value`` without emitting the change signal."""

    @abstractmethod
    def connect(self, widget: Any, slot: Slot) -> None: ...

    def part(self, widget: Any, name: str) -> QWidget | None:
        """The widget carrying the sub-field ``name`` (``min`` of ``dte.min``), if any."""
        return None

    def flag_target(self, widget: Any) -> QWidget:
        """The widget that turns red when the field itself is wrong."""
        return cast(QWidget, widget)


def _quiet(widget: QWidget, apply: Callable[[], None]) -> None:
    widget.blockSignals(True)
    try:
        apply()
    finally:
        widget.blockSignals(False)


@dataclass(frozen=True, slots=True)
class Text(Editor):
    placeholder: str = ""

    def create(self) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(self.placeholder)
        return edit

    def read(self, widget: QLineEdit) -> str:
        return widget.text()

    def write(self, widget: QLineEdit, value: Any) -> None:
        _quiet(widget, lambda: widget.setText(str(value)))

    def connect(self, widget: QLineEdit, slot: Slot) -> None:
        widget.textEdited.connect(slot)


@dataclass(frozen=True, slots=True)
class Check(Editor):
    text: str

    def create(self) -> QCheckBox:
        return QCheckBox(self.text)

    def read(self, widget: QCheckBox) -> bool:
        return widget.isChecked()

    def write(self, widget: QCheckBox, value: Any) -> None:
        _quiet(widget, lambda: widget.setChecked(bool(value)))

    def connect(self, widget: QCheckBox, slot: Slot) -> None:
        widget.toggled.connect(slot)


@dataclass(frozen=True, slots=True)
class Choice(Editor):
    """One value of a string enum, from a combo box of labelled choices."""

    choices: tuple[tuple[str, Any], ...]  # (label, enum member)

    def create(self) -> QComboBox:
        combo = QComboBox()
        for label, value in self.choices:
            combo.addItem(label, value)
        return combo

    def read(self, widget: QComboBox) -> Any:
        kind = type(self.choices[0][1])  # Qt hands the enum back as its plain string
        return kind(widget.currentData())

    def write(self, widget: QComboBox, value: Any) -> None:
        _quiet(widget, lambda: widget.setCurrentIndex(max(0, widget.findData(value))))

    def connect(self, widget: QComboBox, slot: Slot) -> None:
        widget.currentIndexChanged.connect(slot)


@dataclass(frozen=True, slots=True)
class Integer(Editor):
    lo: int
    hi: int
    suffix: str = ""
    special: str = ""  # shown for the minimum ("off", "auto")

    def create(self) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(self.lo, self.hi)
        spin.setSuffix(self.suffix)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        if self.special:
            spin.setSpecialValueText(self.special)
        return spin

    def read(self, widget: QSpinBox) -> int:
        return widget.value()

    def write(self, widget: QSpinBox, value: Any) -> None:
        _quiet(widget, lambda: widget.setValue(int(value)))

    def connect(self, widget: QSpinBox, slot: Slot) -> None:
        widget.valueChanged.connect(slot)


@dataclass(frozen=True, slots=True)
class Money(Editor):
    """A Decimal in a spin box, read back at the box's precision."""

    lo: float
    hi: float
    decimals: int = 2
    prefix: str = ""
    suffix: str = ""
    step: float = 1.0

    def create(self) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(self.lo, self.hi)
        spin.setDecimals(self.decimals)
        spin.setPrefix(self.prefix)
        spin.setSuffix(self.suffix)
        spin.setSingleStep(self.step)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        return spin

    def read(self, widget: QDoubleSpinBox) -> Decimal:
        return Decimal(f"{widget.value():.{widget.decimals()}f}")

    def write(self, widget: QDoubleSpinBox, value: Any) -> None:
        _quiet(widget, lambda: widget.setValue(float(value)))

    def connect(self, widget: QDoubleSpinBox, slot: Slot) -> None:
        widget.valueChanged.connect(slot)


class LimitPriceBox(QWidget):
    """"Limit" check box and the price it enables: no limit reads as None."""

    def __init__(self, spin: QDoubleSpinBox) -> None:
        super().__init__()
        self.check = QCheckBox("Limit")
        self.spin = spin
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check)
        row.addWidget(self.spin, 1)
        self.check.toggled.connect(self.spin.setEnabled)


@dataclass(frozen=True, slots=True)
class OptionalMoney(Editor):
    money: Money

    def create(self) -> LimitPriceBox:
        return LimitPriceBox(self.money.create())

    def read(self, widget: LimitPriceBox) -> Decimal | None:
        return self.money.read(widget.spin) if widget.check.isChecked() else None

    def write(self, widget: LimitPriceBox, value: Any) -> None:
        _quiet(widget.check, lambda: widget.check.setChecked(value is not None))
        widget.spin.setEnabled(value is not None)
        self.money.write(widget.spin, Decimal("0") if value is None else value)

    def connect(self, widget: LimitPriceBox, slot: Slot) -> None:
        widget.check.toggled.connect(slot)
        widget.spin.valueChanged.connect(slot)

    def flag_target(self, widget: LimitPriceBox) -> QWidget:
        return widget.spin


class BiasBox(QFrame):
    """One check box per market bias."""

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 0, 2, 0)
        self.checks: dict[Bias, QCheckBox] = {}
        for bias in (Bias.BULLISH, Bias.NEUTRAL, Bias.BEARISH):
            self.checks[bias] = QCheckBox(bias.value.capitalize())
            row.addWidget(self.checks[bias])
        row.addStretch(1)


class Biases(Editor):
    def create(self) -> BiasBox:
        return BiasBox()

    def read(self, widget: BiasBox) -> frozenset[Bias]:
        return frozenset(b for b, check in widget.checks.items() if check.isChecked())

    def write(self, widget: BiasBox, value: Any) -> None:
        for bias, check in widget.checks.items():
            _quiet(check, lambda c=check, b=bias: c.setChecked(b in value))

    def connect(self, widget: BiasBox, slot: Slot) -> None:
        for check in widget.checks.values():
            check.toggled.connect(slot)


class Dte(Editor):
    def create(self) -> DteRangeEditor:
        return DteRangeEditor()

    def read(self, widget: DteRangeEditor) -> DteRange:
        lo, target, hi, monthly = widget.values()
        return DteRange(min=lo, target=target, max=hi, prefer_monthly=monthly)

    def write(self, widget: DteRangeEditor, value: Any) -> None:
        widget.set_values(value.min, value.target, value.max, value.prefer_monthly)

    def connect(self, widget: DteRangeEditor, slot: Slot) -> None:
        widget.changed.connect(slot)

    def part(self, widget: DteRangeEditor, name: str) -> QWidget | None:
        return {"min": widget.min_spin, "target": widget.target_spin, "max": widget.max_spin,
                "prefer_monthly": widget.prefer_monthly}.get(name)


class _Table(Editor):
    panel: type[LegsPanel] | type[RulesPanel]

    def create(self) -> QWidget:
        return self.panel()

    def read(self, widget: Any) -> Any:
        return widget.value()

    def write(self, widget: Any, value: Any) -> None:
        widget.set_value(value)

    def connect(self, widget: Any, slot: Slot) -> None:
        widget.changed.connect(slot)

    def flag_target(self, widget: Any) -> QWidget:
        return cast(QWidget, widget.view)


class Legs(_Table):
    panel = LegsPanel


class Rules(_Table):
    panel = RulesPanel
