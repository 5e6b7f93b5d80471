"""Every command of an engine opened read-only is refused before it reaches a component: a
command added to the facade without the refusal fails here."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tastydesk.accounts.model import AccountRef
from tastydesk.engine.bootstrap import open_read_only_engine
from tastydesk.engine.errors import EngineError
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store

# Coroutines of the facade that write nothing and send nothing.
READS = {"start", "stop", "preview", "preview_roll", "external_positions"}


async def test_every_command_of_a_read_only_engine_is_refused_with_the_reason(
        tmp_path: Path) -> None:
    with LOOP_GUARD.permitted():  # arranging an account's database before anything opens it
        Store.open(tmp_path / "tastydesk.db").close()
    facade = await open_read_only_engine(tmp_path, "paper.db: damaged",
                                         account=AccountRef.default_paper())
    await facade.start()
    try:
        commands = [name for name, member in vars(EngineFacade).items()
                    if inspect.iscoroutinefunction(member) and not name.startswith("_")
                    and name not in READS]
        assert len(commands) >= 15
        for name in commands:
            method = getattr(facade, name)
            params = [p for p in inspect.signature(method).parameters.values()
                      if p.default is inspect.Parameter.empty]
            with pytest.raises(EngineError, match=r"^read-only: paper\.db: damaged"):
                await method(*[None] * len(params))
        assert not facade.health().automation_armed
    finally:
        await facade.stop()
