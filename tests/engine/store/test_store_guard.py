"""The loop guard: a synchronous Store call on a running loop's thread fails when switched on.

The guard is off by default. ``store_loop_guard`` (tests/conftest.py) switches it on for a test;
``TASTYDESK_STORE_LOOP_GUARD=1`` switches it on for a whole run.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tastydesk.engine.bus import EventBus
from tastydesk.engine.domain.enums import Actor, Trigger
from tastydesk.engine.store.errors import SyncCallOnEventLoop
from tastydesk.engine.store.guard import ENV_VAR, LOOP_GUARD
from tastydesk.engine.store.service import AsyncStore, Store
from tastydesk.engine.tasks import TaskSupervisor
from tests.conftest import assert_no_loop_violations

NOW = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)


@pytest.mark.usefixtures("store_loop_guard")
async def test_sync_call_on_the_loop_raises_and_writes_nothing(store: Store) -> None:
    with pytest.raises(SyncCallOnEventLoop, match=r"Store\.create_workflow .*await "
                                                  r"AsyncStore\.create_workflow"):
        store.create_workflow("SPY", Actor.ENGINE, "on the loop", NOW)
    with pytest.raises(SyncCallOnEventLoop, match=r"Store\.set_config"):
        store.set_config("automation_armed", True)
    with pytest.raises(SyncCallOnEventLoop, match=r"Store\.list_workflows"):
        store.list_workflows()
    # Off the loop (a plain thread, as the writer thread is) the same store answers.
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(len(store.list_workflows())))
    worker.start()
    worker.join()
    assert seen == [0]
    refused = LOOP_GUARD.take_violations()
    assert [v.message.split(" ")[0] for v in refused] == [
        "Store.create_workflow", "Store.set_config", "Store.list_workflows"]
    assert "test_sync_call_on_the_loop_raises" in refused[0].stack


@pytest.mark.usefixtures("store_loop_guard")
@pytest.mark.parametrize("inline", [False, True], ids=["writer-thread", "inline"])
async def test_async_store_calls_pass_the_guard(store: Store, inline: bool) -> None:
    astore = AsyncStore(store, inline=inline)
    wf = await astore.create_workflow("SPY", Actor.ENGINE, "async", NOW)
    moved = await astore.transition(wf.id, Trigger.SCAN, Actor.ENGINE, "scan", NOW)
    await astore.set_config("automation_armed", True)
    assert moved.version == 2 and await astore.get_config("automation_armed") is True
    assert [w.id for w in await astore.list_workflows()] == [wf.id]
    # run() may call the synchronous Store: on the writer thread, or inline with permission.
    assert await astore.run(lambda: store.get_workflow(wf.id).version) == 2
    with pytest.raises(SyncCallOnEventLoop):
        store.get_workflow(wf.id)  # still refused directly, after the permitted call
    await astore.close()
    assert len(LOOP_GUARD.take_violations()) == 1


def test_guard_is_off_unless_the_environment_switches_it_on() -> None:
    # The suite switches the guard on for every test (tests/conftest.py); the product's default
    # comes from the environment when the module is imported, so ask fresh interpreters.
    import os
    import subprocess
    import sys

    probe = "from tastydesk.engine.store.guard import LOOP_GUARD; print(LOOP_GUARD.enabled)"
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    off = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    on = subprocess.run([sys.executable, "-c", probe], env={**env, ENV_VAR: "1"},
                        capture_output=True, text=True)
    assert (off.stdout.strip(), on.stdout.strip()) == ("False", "True"), off.stderr + on.stderr


async def test_guard_switched_off_allows_sync_calls_on_the_loop(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LOOP_GUARD, "enabled", False)
    wf = store.create_workflow("SPY", Actor.ENGINE, "guard off", NOW)
    assert store.get_workflow(wf.id).symbol == "SPY"


@pytest.mark.usefixtures("store_loop_guard")
def test_sync_use_outside_any_loop_is_never_refused(tmp_path: Path) -> None:
    # A command-line tool opens the store and calls it with no event loop running.
    with Store.open(tmp_path / "cli.db") as store:
        store.set_config("k", 1)
        assert store.get_config("k") == 1
        # asyncio.run() inside a synchronous program: only calls made on the loop are refused.
        with pytest.raises(SyncCallOnEventLoop):
            asyncio.run(_sync_read(store))
        assert store.get_config("k") == 1
    assert len(LOOP_GUARD.take_violations()) == 1


async def _sync_read(store: Store) -> object:
    return store.get_config("k")


@pytest.mark.usefixtures("store_loop_guard")
async def test_opening_and_closing_are_allowed_on_the_loop(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "opened-on-loop.db")
    store.close()


@pytest.mark.usefixtures("store_loop_guard")
async def test_a_refusal_swallowed_by_a_bus_handler_still_fails_the_test(store: Store) -> None:
    # The bus logs a failing handler and carries on, so nothing reaches the test by raising;
    # the guard's record is what the suite's teardown check reads.
    bus = EventBus()
    bus.subscribe(_Ping, lambda _event: store.list_workflows())
    bus.publish(_Ping())  # logged by the bus, not raised
    refused = LOOP_GUARD.take_violations()
    assert len(refused) == 1 and "Store.list_workflows" in refused[0].message
    with pytest.raises(pytest.fail.Exception, match=r"1 synchronous store call.*list_workflows"):
        assert_no_loop_violations(refused)
    assert_no_loop_violations(LOOP_GUARD.take_violations())  # the record was emptied


@pytest.mark.usefixtures("store_loop_guard")
async def test_a_refusal_swallowed_by_a_supervised_task_is_recorded(store: Store) -> None:
    supervisor = TaskSupervisor()

    async def reads_synchronously() -> None:
        store.get_config("k")

    supervisor.spawn(reads_synchronously(), "reads synchronously")
    await supervisor.drain()  # the failure is logged by the supervisor, not raised
    refused = LOOP_GUARD.take_violations()
    assert len(refused) == 1 and "reads_synchronously" in refused[0].stack


class _Ping:
    pass
