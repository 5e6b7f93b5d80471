"""Strategy Builder dock: the strategy library, an editor for every field, and a live preview.

Every edit rebuilds the strategy from the editor, runs the engine's validation on its JSON form
and marks each problem on the field it names (red border, tooltip, and a line in the problem
list). Save stays disabled until the strategy is valid; pressing it also builds the strategy on
the chosen symbol's chain, and what the chain refuses is marked on the fields too. Every engine
command (preview, save, delete, restore) runs through the command runner, off the click.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QWidget,
)

from tastydesk.engine.domain.enums import Bias
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.strategy import DteRange, Strategy
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.strategies.codec import export_json, strategy_to_dict
from tastydesk.engine.strategies.validation import (
    FieldError,
    StrategyValidationError,
    parse_strategy,
    validate_strategy_dict,
)
from tastydesk.ui.actions import CommandRunner, settle
from tastydesk.ui.builder.chain_check import chain_error
from tastydesk.ui.builder.form import FieldSet
from tastydesk.ui.builder.layout import builder_body, fill_tabs
from tastydesk.ui.builder.library import LibraryPanel
from tastydesk.ui.builder.marks import ErrorMarks
from tastydesk.ui.builder.preview import IDLE_TEXT, PreviewPanel
from tastydesk.ui.failures import EXPECTED_ERRORS, CommandFailure
from tastydesk.ui.models.legs import default_leg
from tastydesk.ui.read_only import lock_writes

log = logging.getLogger(__name__)

Confirm = Callable[[str, str, str], bool]
PREVIEW, SAVE, LIBRARY = "builder.preview", "builder.save", "builder.library"


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save did: the strategy as saved, the chain check's proposal and any note."""

    strategy: Strategy
    editor: Strategy  # the editor's content when Save was pressed: the new clean state
    proposal: TradeProposal | None
    note: str


class StrategyBuilderDock(QDockWidget):
    """Create, edit, validate, import/export and preview strategies."""

    def __init__(self, engine: EngineFacade, parent: QWidget | None = None, *,
                 user: str = "user", runner: CommandRunner | None = None) -> None:
        super().__init__("Strategy Builder", parent)
        self.setObjectName("dock.strategy_builder")
        self.engine = engine
        self.user = user
        self.runner = runner if runner is not None else CommandRunner(self)
        self.confirm: Confirm = self._ask
        self._original_name: str | None = None  # saved name of what the editor holds
        self._loaded: Strategy | None = None  # as loaded or last saved: the "clean" state
        self._errors: list[FieldError] = []
        self.import_errors: list[FieldError] = []

        self.fields = FieldSet(self)
        self.library = LibraryPanel()
        self.preview = PreviewPanel(engine.config().watchlist)
        self.problems = QListWidget()
        self.problems.setMaximumHeight(72)
        self.problems.setToolTip("Each problem names the field; double-click to go to it")
        self.marks = ErrorMarks(self.fields, self.problems)
        self.status = QLabel()
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Discard the edits since the last save")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Check the strategy on the symbol's chain, then save it to "
                                    "the library")
        self.tabs = QTabWidget()
        fill_tabs(self.tabs, self.fields, self.preview)
        self.setWidget(builder_body(self, self.library, self.tabs, self.problems, self.status,
                                    (self.revert_button, self.save_button)))
        self._connect()
        self.refresh_library()
        self._show_first_or_new()

    # ==== construction ========================================================================
    def _connect(self) -> None:
        lib = self.library
        lib.list.currentItemChanged.connect(self._on_library_current_changed)
        lib.new_button.clicked.connect(self.new_strategy)
        lib.duplicate_button.clicked.connect(self.duplicate_strategy)
        lib.delete_button.clicked.connect(self.delete_strategy)
        lib.import_button.clicked.connect(self._on_import_clicked)
        lib.export_button.clicked.connect(self._on_export_clicked)
        lib.restore_button.clicked.connect(self.restore_defaults)
        self.fields.changed.connect(self.validate)
        self.problems.itemDoubleClicked.connect(self._on_problem_activated)
        self.revert_button.clicked.connect(self.revert)
        self.save_button.clicked.connect(self.save)
        self.preview.button.clicked.connect(self.start_preview)

    # ==== editor state ========================================================================
    def field_widget(self, path: str) -> Any:
        """The editor widget of the field at ``path`` (see ``builder.fields.FIELDS``)."""
        return self.fields.widget(path)

    def widget_for(self, path: str) -> QWidget | None:
        """The editor widget that shows the field a validation path names."""
        return self.fields.widget_for(path)

    def is_flagged(self, widget: QWidget) -> bool:
        return self.marks.is_flagged(widget)

    def refresh_library(self, select: str | None = None) -> None:
        """Reload the library list from the engine, keeping (or moving to) ``select``."""
        self.library.fill(self.engine.strategies(), select or self.library.current_name())

    def library_names(self) -> list[str]:
        return self.library.names()

    def load(self, strategy: Strategy, saved_name: str | None) -> None:
        """Put ``strategy`` in the editor; ``saved_name`` is its name in the library, if any."""
        self.fields.load(strategy)
        self._original_name = saved_name
        self._loaded = self.current_strategy()
        self.validate()

    def current_strategy(self) -> Strategy:
        """The editor's content as a Strategy (not yet validated)."""
        return self.fields.strategy()

    def errors(self) -> list[FieldError]:
        """The problems the last validation found (empty when the editor is valid)."""
        return list(self._errors)

    def is_dirty(self) -> bool:
        """True when the editor differs from what was loaded or last saved."""
        return self._loaded is not None and self.current_strategy() != self._loaded

    def validate(self) -> list[FieldError]:
        """Validate the editor content and mark every problem on its field."""
        strategy = self.current_strategy()
        errors = validate_strategy_dict(strategy_to_dict(strategy))
        name = strategy.name.strip()
        if name and name != self._original_name and any(
                s.name == name for s in self.engine.strategies()):
            errors.append(FieldError("name", f"another strategy is already called {name!r}"))
        self._errors = errors
        self.marks.show(errors)
        self._update_state()
        return errors

    def _update_state(self) -> None:
        valid = not self._errors
        dirty = self.is_dirty()
        saving = self.runner.in_flight(SAVE)
        self.save_button.setEnabled(valid and not saving
                                    and (dirty or self._original_name is None))
        self.revert_button.setEnabled(dirty)
        self.library.export_button.setEnabled(valid)
        self.library.delete_button.setEnabled(self._original_name is not None)
        lib = self.library
        if lock_writes(self.engine, self.save_button, lib.delete_button, lib.import_button,
                       lib.restore_button):
            self.status.setText("Read-only account: strategies can be looked at, not saved")
        elif not valid:
            self.status.setText(f"✖ {len(self._errors)} problem(s): Save is disabled until "
                                "fixed")
        elif not saving:
            state = "not saved yet" if self._original_name is None else (
                "unsaved changes" if dirty else "saved")
            self.status.setText(f"✔ Valid, {state}")

    # ==== commands ============================================================================
    def save(self) -> asyncio.Task[Any] | None:
        """Check the editor's strategy on the chain, then save it; returns the running task.

        Refuses (and says why) while anything is invalid. A chain failure that names a field
        is marked on it and nothing is saved.
        """
        if self.validate():
            self.status.setText(f"Not saved: {len(self._errors)} problem(s) to fix")
            return None
        editor = self.current_strategy()
        strategy = parse_strategy(strategy_to_dict(editor))
        symbol, original = self.preview.symbol(), self._original_name
        task = self.runner.submit(SAVE, lambda: self._check_and_save(strategy, editor, symbol,
                                                                     original),
                                  on_success=self._on_saved, on_failure=self._on_save_failed)
        if task is not None:
            self.save_button.setEnabled(False)
            self.status.setText(f"Checking {strategy.name!r} on {symbol}…" if symbol
                                else f"Saving {strategy.name!r}…")
        return task

    async def _check_and_save(self, strategy: Strategy, editor: Strategy, symbol: str,
                              original: str | None) -> Saved:
        proposal, note = None, ""
        if symbol:
            try:
                proposal = await self.engine.preview(strategy, symbol)
            except EXPECTED_ERRORS as exc:
                error = chain_error(str(exc), symbol)
                if error is not None:
                    raise StrategyValidationError([error]) from exc
                note = f"not checked on {symbol}: {exc}"
        await settle(self.engine.save_strategy(strategy, self.user))
        if original is not None and original != strategy.name:
            await settle(self.engine.delete_strategy(original, self.user))
        return Saved(strategy, editor, proposal, note)

    def _on_saved(self, saved: Saved) -> None:
        self._original_name = saved.strategy.name
        self._loaded = saved.editor
        self.refresh_library(select=saved.strategy.name)
        self.validate()
        if saved.proposal is not None:
            self.preview.show_proposal(saved.proposal)
            self.preview.status.setText(self.preview.summary(saved.proposal))
        self.status.setText(f"Saved {saved.strategy.name!r}"
                            + (f"; {saved.note}" if saved.note else ""))

    def _on_save_failed(self, failure: CommandFailure) -> None:
        self._update_state()
        if failure.cancelled:
            return
        errors = [FieldError(path, message) for path, message in failure.fields]
        if errors:
            self.marks.show(self._errors + errors)
        self.status.setText(f"Not saved: {failure.message}")

    def revert(self) -> None:
        """Back to the strategy as loaded or last saved."""
        if self._loaded is not None:
            self.load(self._loaded, self._original_name)

    def new_strategy(self) -> None:
        """An unsaved one-leg strategy under a free name, ready to be shaped."""
        self.library.set_current(None)
        self.load(Strategy(name=self._unique_name("New strategy"), legs=(default_leg(),),
                           dte=DteRange(30, 45, 60), biases=frozenset({Bias.NEUTRAL})), None)
        self.tabs.setCurrentIndex(0)
        self.field_widget("name").setFocus()

    def duplicate_strategy(self) -> None:
        """The editor's content under a free name, not saved yet (the original is untouched)."""
        source = self.current_strategy()
        self.library.set_current(None)
        self.load(dataclasses.replace(source, name=self._unique_name(f"{source.name} copy")),
                  None)

    def delete_strategy(self) -> asyncio.Task[Any] | None:
        """Delete the saved strategy in the editor (asks first); returns the running task."""
        name = self._original_name
        if name is None:
            self.status.setText("Nothing to delete: this strategy is not saved yet")
            return None
        if not self.confirm("Delete strategy", f"Delete the strategy {name!r}? Workflows "
                            "already running keep their copy.", "Delete"):
            return None
        return self._library_command(lambda: self.engine.delete_strategy(name, self.user),
                                     f"Deleted {name!r}", first=True)

    def restore_defaults(self) -> asyncio.Task[Any] | None:
        """Put the built-in strategies back (asks first); returns the running task."""
        if not self.confirm("Restore default strategies",
                            "Put the built-in strategies back as shipped? Edits to them are "
                            "overwritten; your own strategies are kept.", "Restore"):
            return None
        return self._library_command(lambda: self.engine.restore_default_strategies(self.user),
                                     "Default strategies restored", first=False)

    def _library_command(self, command: Callable[[], Any], done: str,
                         first: bool) -> asyncio.Task[Any] | None:
        def finished(_result: Any) -> None:
            self.refresh_library()
            if first:
                self._show_first_or_new()
            else:
                self._select_library(self.library.current_name())
            self.status.setText(done)

        def failed(failure: CommandFailure) -> None:
            if not failure.cancelled:
                self.status.setText(f"Not done: {failure.message}")

        task = self.runner.submit(LIBRARY, command, on_success=finished, on_failure=failed)
        if task is None:
            self.status.setText("Busy with the library; try again in a moment")
        return task

    def import_from_file(self, path: str | Path) -> bool:
        """Load a strategy file into the editor (not saved yet); bad files change nothing."""
        path = Path(path)
        try:
            from tastydesk.engine.strategies.codec import import_json

            strategy = import_json(path.read_bytes())
        except OSError as exc:
            errors = [FieldError("$", f"cannot read the file: {exc.strerror or exc}")]
        except StrategyValidationError as exc:
            errors = exc.errors
        else:
            self.library.set_current(None)
            self.load(strategy, None)
            exists = any(s.name == strategy.name for s in self.engine.strategies())
            self.status.setText(
                f"Imported {path.name}: a strategy named {strategy.name!r} exists; rename "
                "before saving" if exists else f"Imported {path.name}: review and Save to add it")
            return True
        self.marks.list_only(f"Import of {path.name} failed; nothing changed:", errors)
        self.status.setText(f"✖ {path.name} is not a valid strategy ({len(errors)} problem(s))")
        self.import_errors = list(errors)
        return False

    def export_to_file(self, path: str | Path) -> bool:
        """Write the editor's strategy as JSON; only valid strategies are exported."""
        if self.validate():
            self.status.setText("Not exported: fix the problems first")
            return False
        strategy = parse_strategy(strategy_to_dict(self.current_strategy()))
        try:
            Path(path).write_text(export_json(strategy), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"Export failed: {exc.strerror or exc}")
            return False
        self.status.setText(f"Exported to {Path(path).name}")
        return True

    def start_preview(self) -> asyncio.Task[Any] | None:
        """Ask the engine for a proposal on the chosen symbol; one request at a time.

        The runner takes the guard synchronously, so a double click cannot start two requests.
        Returns the running task (None when nothing was started).
        """
        if self.runner.in_flight(PREVIEW):
            return None
        symbol = self.preview.symbol()
        if not symbol:
            self.preview.status.setText("Choose a symbol first")
            return None
        if self.validate():
            self.preview.status.setText("Cannot preview: fix the problems listed below first")
            return None
        strategy = parse_strategy(strategy_to_dict(self.current_strategy()))

        def shown(proposal: TradeProposal) -> None:
            self.preview.button.setEnabled(True)
            self.preview.show_proposal(proposal)
            self.preview.status.setText(self.preview.summary(proposal))

        def failed(failure: CommandFailure) -> None:
            self.preview.button.setEnabled(True)
            if failure.cancelled:
                self.preview.status.setText("Preview cancelled")
                return
            self.preview.show_proposal(None)
            self.preview.status.setText(f"No proposal on {symbol}: {failure.message}")
            error = chain_error(failure.message, symbol)
            if error is not None:  # what the chain refused is marked on its field, as on Save
                self.marks.show([*self._errors, error])

        self.preview.button.setEnabled(False)
        self.preview.status.setText(f"Building a proposal on {symbol}…")
        return self.runner.submit(PREVIEW, lambda: self.engine.preview(strategy, symbol),
                                  on_success=shown, on_failure=failed)

    # ==== slots ===============================================================================
    def _on_library_current_changed(self, current: QListWidgetItem | None,
                                    previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        if name == self._original_name:
            return
        if self.is_dirty() and not self.confirm(
                "Discard changes", "The strategy in the editor has unsaved changes. "
                "Discard them?", "Discard"):
            self.library.set_current(previous)
            return
        self._select_library(name)

    def _on_problem_activated(self, item: QListWidgetItem) -> None:
        widget = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(widget, QWidget):
            for i in range(self.tabs.count()):
                if self.tabs.widget(i).isAncestorOf(widget):
                    self.tabs.setCurrentIndex(i)
            widget.setFocus()

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import strategy", "",
                                              "Strategy JSON (*.json);;All files (*)")
        if path:
            self.import_from_file(path)

    def _on_export_clicked(self) -> None:
        name = self.current_strategy().name.strip() or "strategy"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "strategy"
        path, _ = QFileDialog.getSaveFileName(self, "Export strategy", f"{safe}.json",
                                              "Strategy JSON (*.json)")
        if path:
            self.export_to_file(path)

    # ==== internals ===========================================================================
    def _show_first_or_new(self) -> None:
        if self.library.list.count():
            self.library.select_row(0)
            self._select_library(self.library.names()[0])
        else:
            self.new_strategy()

    def _select_library(self, name: str | None) -> None:
        strategy = next((s for s in self.engine.strategies() if s.name == name), None)
        if strategy is None:
            return
        self.load(strategy, strategy.name)
        self.preview.show_proposal(None)
        self.preview.status.setText(IDLE_TEXT)

    def _unique_name(self, base: str) -> str:
        names = {s.name for s in self.engine.strategies()}
        if base not in names:
            return base
        n = 2
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

    def _ask(self, title: str, text: str, accept_text: str) -> bool:
        from tastydesk.ui.widgets.dialogs import ask_confirm

        return ask_confirm(self, title, text, accept_text)
