"""Shared fixtures: offscreen Qt, a qasync loop usable from pytest-qt, isolated QSettings and an
in-memory keyring. Qt and keyring are imported inside the fixtures so engine-only test runs never
load them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(name="isolated_settings")
def fixture_isolated_settings(tmp_path: Path) -> Iterator[Path]:
    """Point QSettings (INI format, user scope) at ``tmp_path`` for the test."""
    from PySide6.QtCore import QCoreApplication, QSettings

    from tastydesk import paths

    QCoreApplication.setOrganizationName(paths.ORG_NAME)
    QCoreApplication.setApplicationName(paths.APP_NAME)
    folder = tmp_path / "qsettings"
    folder.mkdir()
    previous_format = QSettings.defaultFormat()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
    QSettings.setDefaultFormat(previous_format)


@pytest.fixture(name="memory_keyring")
def fixture_memory_keyring() -> Iterator[Any]:
    """Install an in-memory keyring backend for the test and restore the previous one after.

    The backend class is defined here, not at import time: KeyringBackend subclasses with a
    positive priority register themselves as soon as they are defined.
    """
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            if (service, username) not in self.store:
                raise PasswordDeleteError(f"no password for {service}/{username}")
            del self.store[(service, username)]

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


#: The GUI-thread collector, once a Qt test has started one (see tastydesk.ui.gui_gc).
GUI_COLLECTORS: list[Any] = []


@pytest.fixture(name="gui_gc", scope="session")
def fixture_gui_gc(qapp: Any) -> Iterator[Any]:
    """As in the app: automatic garbage collection off, cycles collected on the GUI thread, so a
    Qt object left in a cycle by one test is never destroyed on a store or worker thread."""
    import gc

    from tastydesk.ui.gui_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()
    GUI_COLLECTORS.append(collector)
    yield collector
    collector.timer.stop()
    GUI_COLLECTORS.clear()
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread() -> Iterator[None]:
    """After each test, collect what passed the thresholds, on the main (GUI) thread."""
    yield
    for collector in GUI_COLLECTORS:
        collector.check()


@pytest.fixture(name="qloop")
def fixture_qloop(qapp: Any, gui_gc: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop marked as running, so coroutines scheduled by Qt slots progress while
    pytest-qt's ``qtbot.waitUntil``/``waitSignal`` spin the Qt event loop."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    try:
        yield loop
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        qapp.processEvents()
        qapp.processEvents()
        asyncio.events._set_running_loop(None)
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        loop.close()
        asyncio.set_event_loop(None)


def run_coro(qtbot: Any, coro: Any, timeout_ms: int = 20000) -> Any:
    """Run ``coro`` on the qasync loop of the ``qloop`` fixture, spinning Qt until it is done."""
    future = asyncio.ensure_future(coro)
    qtbot.waitUntil(future.done, timeout=timeout_ms)
    return future.result()


@pytest.fixture(name="store_loop_guard")
def fixture_store_loop_guard() -> Iterator[None]:
    """Switch the store's loop guard on for one test, and back to its previous setting after.

    With it on, a synchronous ``Store`` call made on a thread that is running an asyncio loop
    raises ``SyncCallOnEventLoop`` (code on the loop must await ``AsyncStore``). To run the whole
    suite that way, set ``TASTYDESK_STORE_LOOP_GUARD=1`` in the environment instead.
    """
    from tastydesk.engine.store.guard import LOOP_GUARD

    previous = LOOP_GUARD.enabled
    LOOP_GUARD.enable()
    yield
    LOOP_GUARD.enable(previous)


@pytest.fixture(autouse=True)
def _store_loop_guard_everywhere() -> Iterator[None]:
    """Every test runs with the loop guard on: product code on the event loop (the GUI thread in
    the app) that calls the synchronous store fails the test. The tests' own inspection of the
    database (a call made from a file under tests/) is exempt.
    """
    from tastydesk.engine.store.guard import LOOP_GUARD

    previous = LOOP_GUARD.enabled, LOOP_GUARD.exempt_callers
    LOOP_GUARD.take_violations()  # a refusal left by code running between tests is not ours
    LOOP_GUARD.enable(exempt_callers=_is_test_file)
    yield
    LOOP_GUARD.enable(previous[0], exempt_callers=previous[1])
    assert_no_loop_violations(LOOP_GUARD.take_violations())


def assert_no_loop_violations(violations: list[Any]) -> None:
    """Fail the test if the store's loop guard refused any call during it.

    The refusal raises where the call was made, but a bus handler, a supervised task or the
    UI's command runner catches and logs it; the guard's record makes it fail the test anyway.
    A test that provokes a refusal on purpose takes the record itself
    (``LOOP_GUARD.take_violations()``) before it ends.
    """
    if violations:
        first = violations[0]
        pytest.fail(f"{len(violations)} synchronous store call(s) on the event loop; the first: "
                    f"{first.message}\n{first.stack}", pytrace=False)


_TESTS_DIR = str(Path(__file__).resolve().parent)


def _is_test_file(filename: str) -> bool:
    return filename.startswith(_TESTS_DIR)
