"""The login dialog and the Roll ticket run through the runner they are given (the window's,
which reports every failed command the same way)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tastydesk.ui.actions import CommandRunner
from tastydesk.ui.widgets.login_dialog import LOGIN, LoginDialog
from tastydesk.ui.widgets.roll_ticket import PREVIEW, RollTicket
from tests.ui.engine_kit import wait_for
from tests.ui.fake_facade import FakeFacade


@pytest.fixture(name="no_keyring")
def fixture_no_keyring() -> Iterator[None]:
    """A keyring that cannot keep secrets (as on a machine without an OS keyring)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _failures(runner: CommandRunner) -> list[tuple[object, str]]:
    seen: list[tuple[object, str]] = []
    runner.failed.connect(lambda key, message: seen.append((key, message)))
    return seen


@pytest.mark.usefixtures("no_keyring")
def test_a_login_that_cannot_be_kept_fails_through_the_given_runner(
        qloop: Any, qtbot: Any) -> None:
    runner = CommandRunner()
    failed = _failures(runner)
    dialog = LoginDialog(runner=runner)
    qtbot.addWidget(dialog)
    dialog.secret_edit.setText("secret")
    dialog.token_edit.setText("token")
    dialog.start_login()
    assert runner.in_flight(LOGIN) and not dialog.login_button.isEnabled()
    dialog.start_login()  # a second click while verifying does nothing
    wait_for(qtbot, lambda: not runner.in_flight(LOGIN), timeout_s=5)
    [(key, message)] = failed
    assert key == LOGIN and message.startswith("Cannot store credentials safely: ")
    assert dialog.message.text() == message  # the dialog says it too, on its own line
    assert dialog.login_button.isEnabled() and not dialog.use_button.isEnabled()


def test_missing_secrets_are_refused_before_anything_runs(qloop: Any, qtbot: Any) -> None:
    runner = CommandRunner()
    dialog = LoginDialog(runner=runner)
    qtbot.addWidget(dialog)
    dialog.token_edit.setText("token")
    dialog.start_login()
    assert not runner.in_flight(LOGIN)
    assert dialog.message.text() == "provider secret: required"


def test_a_roll_preview_failure_reaches_the_given_runner(qloop: Any, qtbot: Any) -> None:
    runner = CommandRunner()
    failed = _failures(runner)
    ticket = RollTicket(None, FakeFacade(), 7, "SPY Iron Condor (#7)", runner=runner)
    qtbot.addWidget(ticket)
    ticket.show()
    wait_for(qtbot, lambda: bool(failed) and not ticket.busy, timeout_s=5)
    assert failed == [((PREVIEW, 7), "workflow: no open position for workflow #7")]
    assert ticket.error.text() == "Not priced: workflow: no open position for workflow #7"
    assert not ticket.send_button.isEnabled()
