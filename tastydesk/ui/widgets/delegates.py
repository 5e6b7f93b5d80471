"""Item delegates: keyed cells, P&L colour, warning icons, progress toward target and stop.

Delegates only paint: a keyed model's cell comes from its one :data:`CellRole` answer (text,
alignment, value), other models' from ``DisplayRole`` and :data:`ValueRole`; the text always
carries the sign, so nothing is told by colour alone.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QStaticText, QTransform
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from tastydesk.ui.models.base import Cell
from tastydesk.ui.models.roles import CellRole, ValueRole
from tastydesk.ui.theme import pnl_colour

AnyIndex = QModelIndex | QPersistentModelIndex

_STATIC_TEXTS = 4096  # laid-out texts kept per delegate (prices change: old ones go)
# Flags as plain ints: the enum operators cost more than the rest of a cell's paint.
_SLOW_STATES = (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus).value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_HOVER = QStyle.StateFlag.State_MouseOver.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_SELECTED = QStyle.StateFlag.State_Selected.value
_RIGHT = Qt.AlignmentFlag.AlignRight.value
_HCENTER = Qt.AlignmentFlag.AlignHCenter.value
# Enum members read once: reading one off its class runs Python code, per painted cell.
_NORMAL = QPalette.ColorGroup.Normal
_INACTIVE = QPalette.ColorGroup.Inactive
_DISABLED = QPalette.ColorGroup.Disabled
_TEXT = QPalette.ColorRole.Text
_HIGHLIGHTED_TEXT = QPalette.ColorRole.HighlightedText
_MID = QPalette.ColorRole.Mid
_ITEM_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewItem
_NO_PEN = Qt.PenStyle.NoPen
_LEFT_CENTRED = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


class CellDelegate(QStyledItemDelegate):
    """Paints a keyed model's cell from its one :data:`CellRole` answer, with text laid out once.

    Why: the styled path asks the model for seven roles per cell (each a call into Python, and
    through a filter proxy a second one to map the index) and lays the text out again on every
    paint; with hundreds of cells repainted at each market refresh that held the event loop for
    tens of milliseconds. A cell this path would draw differently takes the styled path: the
    selected row and the focused cell (highlight and focus frame), text wider than the cell (the
    styled path elides it), and a model that does not answer :data:`CellRole`.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._texts: dict[str, QStaticText] = {}
        self._font = QFont()
        self._margins: tuple[QStyle | None, int] = (None, 0)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        cell = index.data(CellRole)
        state = option.state.value
        if not isinstance(cell, Cell) or state & _SLOW_STATES:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        rect = self.text_rect(option, style)
        font = option.font
        text = self.static_text(cell.text, font) if cell.text else None
        if text is not None and text.size().width() > rect.width():
            super().paint(painter, option, index)
            return
        if state & _HOVER:  # unselected, a keyed model's cell has no panel but a hover one
            style.drawPrimitive(_ITEM_PANEL, option, painter, widget)
        if text is not None:
            self.draw_cell(painter, option, cell, rect, text, font)

    def draw_cell(self, painter: QPainter, option: QStyleOptionViewItem, cell: Cell,
                  rect: QRect, text: QStaticText, font: QFont) -> None:
        """Draw the cell's text in ``rect``, aligned as the styled path aligns it."""
        painter.save()
        painter.setFont(font)
        painter.setPen(self.text_colour(option, cell))
        painter.drawStaticText(aligned(text, rect, cell.align), text)
        painter.restore()

    def text_colour(self, option: QStyleOptionViewItem, cell: Cell) -> QColor:
        """The colour the styled path gives an unselected cell's text."""
        del cell  # the plain colour; a subclass colours by value
        return option.palette.color(colour_group(option), _TEXT)

    def text_rect(self, option: QStyleOptionViewItem, style: QStyle) -> QRect:
        """The cell less the styled path's text margin on each side."""
        margin = self.text_margin(option, style)
        return option.rect.adjusted(margin, 0, -margin, 0)

    def text_margin(self, option: QStyleOptionViewItem, style: QStyle) -> int:
        """The styled path's margin on each side of a cell's text."""
        held, margin = self._margins
        if held is not style:
            margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None,
                                       option.widget) + 1
            self._margins = (style, margin)
        return margin

    def text_width(self, option: QStyleOptionViewItem, cell: Cell) -> int:
        """How wide the styled path measures a text-only cell: its text and the two margins
        (nothing for a cell without text)."""
        if cell.text is None:
            return 0
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        text = math.ceil(self.static_text(cell.text, option.font).size().width()) \
            if cell.text else 0
        return text + 2 * self.text_margin(option, style)

    def static_text(self, text: str, font: QFont) -> QStaticText:
        """``text`` laid out in ``font``, kept for the next paint of the same text."""
        if font != self._font:
            self._font = QFont(font)
            self._texts.clear()
        static = self._texts.get(text)
        if static is None:
            if len(self._texts) >= _STATIC_TEXTS:
                self._texts.clear()
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(QTransform(), font)
            self._texts[text] = static
        return static


def colour_group(option: QStyleOptionViewItem) -> QPalette.ColorGroup:
    """The palette group the styled path paints a cell's text from (its widget's state)."""
    state = option.state.value
    if not state & _ENABLED:
        return _DISABLED
    if not state & _ACTIVE:
        return _INACTIVE
    return _NORMAL


def aligned(text: QStaticText, rect: QRect, align: int) -> QPointF:
    """Top-left corner of ``text`` placed in ``rect`` by ``align`` (vertically centred)."""
    size = text.size()
    if align & _RIGHT:
        x = rect.x() + rect.width() - size.width()
    elif align & _HCENTER:
        x = rect.x() + (rect.width() - size.width()) / 2
    else:
        x = rect.x()
    return QPointF(x, rect.y() + (rect.height() - size.height()) / 2)


class PnlDelegate(CellDelegate):
    """Green for gains, red for losses; the displayed text already has its sign."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        super().initStyleOption(option, index)
        colour = pnl_colour(index.data(ValueRole), option.text)
        if colour is not None:
            option.palette.setColor(QPalette.ColorRole.Text, colour)
            option.palette.setColor(QPalette.ColorRole.HighlightedText, colour.lighter(140))

    def text_colour(self, option: QStyleOptionViewItem, cell: Cell) -> QColor:
        colour = pnl_colour(cell.value, cell.text)
        return super().text_colour(option, cell) if colour is None else colour


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


class ProgressDelegate(CellDelegate):
    """The cell's text with a thin bar under it: filled toward the profit target (value 0..1,
    green) or the stop (value -1..0, red). The bar never sits behind the text, so the words stay
    readable on either theme."""

    BAR_HEIGHT = 3

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        cell = index.data(CellRole)
        state = option.state.value
        if isinstance(cell, Cell) and not state & _SLOW_STATES:
            # As CellDelegate: an unselected keyed cell has no panel but a hover one, and the
            # view's option is only read, so it need not be copied.
            opt = option
            text, value = cell.text or "", cell.value
            if state & _HOVER:
                style = opt.widget.style() if opt.widget is not None else QApplication.style()
                style.drawPrimitive(_ITEM_PANEL, opt, painter, opt.widget)
        else:
            opt = QStyleOptionViewItem(option)
            style = opt.widget.style() if opt.widget is not None else QApplication.style()
            self.initStyleOption(opt, index)
            text, value = opt.text, index.data(ValueRole)
            opt.text = ""
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
            state = opt.state.value
        if value is None and not text:
            return  # a row without this figure (a leg under its position): no empty bar
        track = QRect(opt.rect.left() + 3, opt.rect.bottom() - self.BAR_HEIGHT - 1,
                      max(1, opt.rect.width() - 6), self.BAR_HEIGHT)
        painter.save()
        painter.setPen(_NO_PEN)
        painter.setBrush(opt.palette.color(_MID))
        painter.drawRect(track)
        if value is not None:
            fraction = max(-1.0, min(1.0, float(value)))
            colour = pnl_colour(fraction) or QColor("#888888")
            fill = QRect(track)
            fill.setWidth(max(1, int(track.width() * abs(fraction))))
            painter.setBrush(colour)
            painter.drawRect(fill)
        painter.setPen(opt.palette.color(_HIGHLIGHTED_TEXT if state & _SELECTED else _TEXT))
        # The text keeps the full cell height above the bar: a tight row must not clip it.
        area = opt.rect.adjusted(4, 0, -3, -self.BAR_HEIGHT // 2)
        static = self.static_text(text, opt.font) if text else None
        if static is not None and static.size().width() <= area.width():
            painter.setFont(opt.font)
            painter.drawStaticText(aligned(static, area, 0), static)  # left, centred
        else:  # wider than the cell: clipped at its edge as before
            painter.drawText(area, _LEFT_CENTRED, text)
        painter.restore()
