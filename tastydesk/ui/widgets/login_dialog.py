"""Log in to tastytrade: environment, OAuth provider secret and refresh token, then an account.

Secrets are handed straight to the credentials store (the OS keyring); the dialog keeps them only
in its password fields and clears those when it closes. The chosen account number is not a
secret and is remembered in QSettings.

Verifying runs through the app's command runner like every other user action (one at a time, a
failure reported as the window reports any command's), and the keyring is only reached on a
worker thread: a locked OS keyring asking for its password never freezes the window.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tastydesk.engine.domain.account import AccountInfo
from tastydesk.ui.actions import CommandRunner
from tastydesk.ui.failures import CommandFailure
from tastydesk.ui.widgets.dialogs import no_default_button

log = logging.getLogger(__name__)

ENVIRONMENTS = (("Production (real money)", "live"), ("Sandbox (test account)", "sandbox"))
ACCOUNT_KEY = "tastytrade/account/{env}"
LOGIN = "tastytrade-login"  # the command runner's key for verifying a login


class LoginFailed(ValueError):
    """The login was refused or its secrets cannot be kept safely: an answer for the trader,
    one line, with no secret and no traceback."""


def credential_store() -> Any:
    """The keyring-backed store; raises RuntimeError with a readable reason when unusable."""
    try:
        from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    except ImportError as exc:
        raise RuntimeError(f"tastytrade support is not available: {exc}") from exc
    store = KeyringCredentialStore()
    store.check_backend()
    return store


async def verify_and_keep(env: str, secret: str, token: str) -> list[AccountInfo]:
    """Check the login with tastytrade, then keep its secrets in the OS keyring; the accounts
    it may trade. Raises :class:`LoginFailed` saying why, having kept nothing."""
    try:
        store = await asyncio.to_thread(credential_store)
    except Exception as exc:
        raise LoginFailed(f"Cannot store credentials safely: {exc}") from None
    try:
        accounts: list[AccountInfo] = await store.login(env, secret, token)
    except Exception as exc:
        log.warning("tastytrade login failed: %s", type(exc).__name__)
        raise LoginFailed(f"Login failed: {exc}") from None
    return accounts


class LoginDialog(QDialog):
    logged_in = Signal(str, str)  # env, account number

    def __init__(self, parent: QWidget | None = None,
                 runner: CommandRunner | None = None) -> None:
        super().__init__(parent)
        # The window's runner: a failed login is reported as any failed command is.
        self.runner = runner if runner is not None else CommandRunner(self)
        self.setObjectName("loginDialog")
        self.setWindowTitle("Log in to tastytrade")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        intro = QLabel("Create an OAuth application at my.tastytrade.com (API access) and paste "
                       "its provider secret and a refresh token. They are stored only in your "
                       "system keyring.")
        intro.setWordWrap(True)
        intro.setMinimumWidth(440)  # the layout sets the dialog's minimum size (see below)
        layout.addWidget(intro)
        form = QFormLayout()
        self.env_combo = QComboBox()
        self.env_combo.setObjectName("login.env")
        for text, env in ENVIRONMENTS:
            self.env_combo.addItem(text, env)
        self.env_combo.setCurrentIndex(1)
        self.secret_edit = QLineEdit()
        self.secret_edit.setObjectName("login.secret")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit = QLineEdit()
        self.token_edit.setObjectName("login.token")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.account_combo = QComboBox()
        self.account_combo.setObjectName("login.account")
        self.account_combo.setEnabled(False)
        form.addRow("Environment", self.env_combo)
        form.addRow("Provider secret", self.secret_edit)
        form.addRow("Refresh token", self.token_edit)
        form.addRow("Account", self.account_combo)
        layout.addLayout(form)
        for field in (self.env_combo, self.secret_edit, self.token_edit, self.account_combo):
            field.setMinimumHeight(field.sizeHint().height())
        self.message = QLabel()
        self.message.setObjectName("fieldError")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Room for a three-line message from the start: an error makes the dialog no smaller
        # elsewhere, and a longer one grows the dialog (below) instead of squashing the fields.
        self.message.setMinimumHeight(3 * self.message.fontMetrics().lineSpacing())
        layout.addWidget(self.message)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.buttons = QDialogButtonBox()
        self.login_button = self.buttons.addButton("Verify && log in",
                                                   QDialogButtonBox.ButtonRole.ActionRole)
        self.use_button = self.buttons.addButton("Use this account",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        no_default_button(self.buttons)
        self.use_button.setEnabled(False)
        self.login_button.clicked.connect(self.start_login)
        self.buttons.accepted.connect(self.use_account)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    @property
    def env(self) -> str:
        return str(self.env_combo.currentData())

    def start_login(self) -> None:
        """Verify the credentials with tastytrade (async); guarded against double clicks."""
        if self.runner.in_flight(LOGIN):
            return
        secret = self.secret_edit.text().strip()
        token = self.token_edit.text().strip()
        missing = [name for name, value in (("provider secret", secret),
                                            ("refresh token", token)) if not value]
        if missing:
            self.message.setText(" and ".join(missing) + ": required")
            return
        env = self.env
        self.login_button.setEnabled(False)
        self.message.setText("Verifying with tastytrade\u2026")
        self.runner.run(LOGIN, lambda: verify_and_keep(env, secret, token),
                        on_success=self.show_accounts, on_failure=self._login_failed)

    def _login_failed(self, failure: CommandFailure) -> None:
        self.message.setText(failure.message)
        self.login_button.setEnabled(True)

    def show_accounts(self, accounts: list[AccountInfo]) -> None:
        self.secret_edit.clear()
        self.token_edit.clear()
        self.login_button.setEnabled(True)
        self.account_combo.clear()
        for acc in accounts:
            label = acc.account_number + (f" ({acc.nickname})" if acc.nickname else "")
            label += "" if acc.margin else " cash"
            self.account_combo.addItem(label, acc.account_number)
        self.account_combo.setEnabled(bool(accounts))
        self.use_button.setEnabled(bool(accounts))
        self.message.setText("Logged in. Pick the account to trade." if accounts
                             else "Logged in, but no account is available to this login.")

    def use_account(self) -> None:
        account = self.account_combo.currentData()
        if not account:
            return
        QSettings().setValue(ACCOUNT_KEY.format(env=self.env), account)
        self.logged_in.emit(self.env, account)
        self.accept()

    def done(self, result: int) -> None:
        self.secret_edit.clear()
        self.token_edit.clear()
        super().done(result)


def log_out() -> list[str]:
    """Delete stored credentials for every environment; returns the environments cleared."""
    store = credential_store()
    cleared = []
    for _text, env in ENVIRONMENTS:
        if store.load(env) is not None:
            store.delete(env)
            cleared.append(env)
        QSettings().remove(ACCOUNT_KEY.format(env=env))
    return cleared
