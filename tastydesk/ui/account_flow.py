"""Logging in to tastytrade from the paper desk, and logging out.

After a login the chosen account is remembered through the engine (a command, run by the
command runner) and the trader decides whether to switch to the live broker now or at the next
start. Logging out deletes the stored credentials from the system keyring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QWidget

from tastydesk.accounts.model import AccountKind, AccountRef, BadAccount
from tastydesk.accounts.registry import remember_login
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.reconcile_gate import LegDifference, ReconcileDifferences
from tastydesk.ui.actions import CommandRunner, current_user
from tastydesk.ui.theme import MODE_COLOURS
from tastydesk.ui.widgets.dialogs import ask_confirm

REMEMBER_ACCOUNT = "account.remember"
LOGOUT = "tastytrade-logout"  # the command runner's key for deleting the stored logins


def stored_logins() -> list[AccountKind]:
    """The tastytrade environments whose login the keyring holds (none when it cannot say)."""
    try:
        from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

        creds = KeyringCredentialStore()
        return [kind for kind in (AccountKind.SANDBOX, AccountKind.LIVE)
                if creds.load(kind.value) is not None]
    except Exception:  # keyring back ends raise their own types; listing is best effort
        return []


class AccountFlow(QObject):
    """The File menu's login and logout; ``switch`` is called when the trader switches now."""

    def __init__(self, window: QWidget, engine: EngineFacade, runner: CommandRunner,
                 tell: Callable[[str], None],
                 switch: Callable[[AccountRef | None], None]) -> None:
        super().__init__(window)
        self._window = window
        self._engine = engine
        self._runner = runner
        self._tell = tell
        self._switch = switch
        self._root: Path | None = None
        self.current: AccountRef | None = None
        engine.bus.subscribe(ReconcileDifferences, self._on_differences)

    def _on_differences(self, event: ReconcileDifferences) -> None:
        """The reconciliation gate holds: show the legs once the event loop is free."""
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: self.show_differences(list(event.differences)))

    def show_differences(self, differences: list[LegDifference]) -> None:
        from tastydesk.ui.widgets.account_dialogs import ReconcileDialog

        if not differences:
            return
        dialog = ReconcileDialog(differences, self._window)
        if not dialog.exec():
            self._tell("Automation stays held until each difference has a decision.")
            return
        user = current_user()
        for symbol, action in dialog.decisions():
            self._runner.run(("reconcile", symbol), lambda s=symbol, a=action:
                             self._engine.decide_difference(s, a, user))

    def set_context(self, root: Path, account: AccountRef) -> None:
        """The data directory and the account open now; the title bar and badge name it."""
        self._root = Path(root)
        self.current = account
        self._window.setWindowTitle(f"tastydesk \u2014 {account.label()}")
        badge = self._window.findChild(QLabel, "modeBadge")
        if badge is not None:
            badge.setText(account.label())

    def show_read_only(self, reason: str) -> None:
        """The account is open read-only: title and badge say so with the reason (the docks
        grey out their commands from the engine's ``read_only``, which refuses every command
        with the same reason)."""
        label = self.current.label() if self.current is not None else str(self._engine.mode)
        self._window.setWindowTitle(f"tastydesk \u2014 {label} \u2014 READ-ONLY: {reason}")
        badge = self._window.findChild(QLabel, "modeBadge")
        if badge is not None:
            badge.setText(f"READ-ONLY \u00b7 {label}")
            background, foreground = MODE_COLOURS["READ-ONLY"]
            badge.setStyleSheet(f"background: {background}; color: {foreground};")
            badge.setToolTip(f"Read-only: {reason}. Nothing is written and no order is sent.")
        self._tell(f"Read-only: {reason}")

    def show_switch(self) -> None:
        """File > Switch account: pick or create an account; the app reopens on it."""
        from PySide6.QtCore import QSettings

        from tastydesk.ui.widgets.account_dialogs import SwitchAccountDialog
        from tastydesk.ui.widgets.login_dialog import ACCOUNT_KEY

        if self._root is None or self.current is None:
            self._tell("Switching accounts needs the app started on a data directory.")
            return
        logins = stored_logins()
        for kind in logins:  # the account chosen at login, when this data directory knows it
            number = QSettings().value(ACCOUNT_KEY.format(env=kind.value))
            try:
                remember_login(self._root, AccountRef(kind, str(number or "")))
            except BadAccount:
                continue
        dialog = SwitchAccountDialog(self._root, self.current, self._window, logins=logins)
        dialog.exec()
        if dialog.chosen is not None and dialog.chosen != self.current:
            self._switch(dialog.chosen)

    def show_login(self) -> None:
        from tastydesk.ui.widgets.login_dialog import LoginDialog

        dialog = LoginDialog(self._window, runner=self._runner)
        dialog.logged_in.connect(self.logged_in)
        dialog.exec()

    def logged_in(self, env: str, account: str) -> None:
        """Keep the account choice, then offer to switch to it now (its own files)."""
        user = current_user()
        try:
            target: AccountRef | None = AccountRef(AccountKind(env), account)
        except (BadAccount, ValueError):
            target = None
        if target is not None and self._root is not None:
            remember_login(self._root, target)  # listed in Switch account from now on

        def kept(_result: object) -> None:
            if ask_confirm(self._window, "Switch to tastytrade",
                           f"Logged in to tastytrade {env}, account {account}.\n\nSwitch to live "
                           "data now? The paper session stops; automation starts paused until "
                           "the broker is reconciled.", "Switch now"):
                self._switch(target)
            else:
                self._tell(f"Logged in to tastytrade {env}, account {account}. tastydesk uses "
                           "it from the next start.")

        if self._engine.read_only is not None:  # this account keeps nothing: just offer it
            kept(None)
            return
        # A failure is reported by the window, like every command's.
        self._runner.run(REMEMBER_ACCOUNT,
                         lambda: self._engine.remember_account(env, account, user),
                         on_success=kept)

    def log_out(self) -> None:
        from tastydesk.ui.widgets.login_dialog import log_out

        if not ask_confirm(self._window, "Log out", "Delete the stored tastytrade credentials "
                           "from the system keyring?", "Log out"):
            return
        # The keyring is reached on a worker thread: a locked keyring never freezes the window.
        self._runner.run(
            LOGOUT, lambda: asyncio.to_thread(log_out),
            on_success=lambda cleared: self._tell(
                "Logged out: " + (", ".join(cleared) or "nothing was stored")),
            on_failure=lambda failure: self._tell(f"Log out failed: {failure.message}"))
