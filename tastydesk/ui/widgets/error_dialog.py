"""A single non-modal error dialog with "Copy details"; repeated errors append to it."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from tastydesk.paths import redact


class ErrorDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("tastydesk: unexpected error")
        self.setModal(False)
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        note = QLabel("The app keeps running. The details were written to the log file.")
        layout.addWidget(note)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox()
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.hide)
        layout.addWidget(buttons)
        self.count = 0

    def show_error(self, summary: str, details: str) -> None:
        """Append an error (secrets redacted) and bring the dialog up without blocking."""
        self.count += 1
        self.summary.setText(redact(summary) if self.count == 1
                             else f"{redact(summary)}  ({self.count} errors)")
        text = redact(details)
        self.details.appendPlainText(text if self.count == 1 else "\n" + "-" * 60 + "\n" + text)
        self.show()
        self.raise_()

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())
