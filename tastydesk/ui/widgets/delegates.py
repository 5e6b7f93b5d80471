"""Item delegates: P&L colour, warning icons, progress toward profit target and stop.

Delegates only paint: the numbers come from the model's :data:`ValueRole`, the text (which always
carries the sign, so nothing is told by colour alone) from ``DisplayRole``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from tastydesk.ui.models.roles import ValueRole
from tastydesk.ui.theme import pnl_colour

AnyIndex = QModelIndex | QPersistentModelIndex


class PnlDelegate(QStyledItemDelegate):
    """Green for gains, red for losses; the displayed text already has its sign."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        super().initStyleOption(option, index)
        colour = pnl_colour(index.data(ValueRole), option.text)
        if colour is not None:
            option.palette.setColor(QPalette.ColorRole.Text, colour)
            option.palette.setColor(QPalette.ColorRole.HighlightedText, colour.lighter(140))


class WarningsDelegate(QStyledItemDelegate):
    """A warning icon with the count; the cell tooltip lists every warning."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        warnings = index.data(ValueRole) or ()
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if not warnings:
            return
        icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        side = min(opt.rect.height() - 4, 16)
        icon_rect = QRect(opt.rect.left() + 4, opt.rect.center().y() - side // 2, side, side)
        icon.paint(painter, icon_rect)
        painter.save()
        painter.setPen(opt.palette.color(QPalette.ColorRole.Text))
        text_rect = opt.rect.adjusted(side + 8, 0, 0, 0)
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter), str(len(warnings)))
        painter.restore()


class ProgressDelegate(QStyledItemDelegate):
    """The cell's text with a thin bar under it: filled toward the profit target (value 0..1,
    green) or the stop (value -1..0, red). The bar never sits behind the text, so the words stay
    readable on either theme."""

    BAR_HEIGHT = 3

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        value: Any = index.data(ValueRole)
        if value is None and not text:
            return  # a row without this figure (a leg under its position): no empty bar
        track = QRect(opt.rect.left() + 3, opt.rect.bottom() - self.BAR_HEIGHT - 1,
                      max(1, opt.rect.width() - 6), self.BAR_HEIGHT)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(opt.palette.color(QPalette.ColorRole.Mid))
        painter.drawRect(track)
        if value is not None:
            fraction = max(-1.0, min(1.0, float(value)))
            colour = pnl_colour(fraction) or QColor("#888888")
            fill = QRect(track)
            fill.setWidth(max(1, int(track.width() * abs(fraction))))
            painter.setBrush(colour)
            painter.drawRect(fill)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.setPen(opt.palette.color(QPalette.ColorRole.HighlightedText if selected
                                         else QPalette.ColorRole.Text))
        # The text keeps the full cell height above the bar: a tight row must not clip it.
        painter.drawText(opt.rect.adjusted(4, 0, -3, -self.BAR_HEIGHT // 2),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()
