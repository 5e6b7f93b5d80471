"""Supervised background tasks: strong references, logged failures, cancellable and drainable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSupervisor:
    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._services: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def spawn_service(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task that runs until it is stopped (the paper time driver): supervised like any
        other (held, its failure reported, cancelled by :meth:`cancel_all`), but :meth:`drain`
        does not wait for it, since it never finishes by itself."""
        task = self.spawn(coro, name)
        self._services.add(task)
        task.add_done_callback(self._services.discard)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s failed", task.get_name(), exc_info=exc)
            if self._on_error is not None:
                self._on_error(task.get_name(), exc)

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def drain(self, exclude: set[asyncio.Task[Any]] | None = None) -> None:
        """Wait until every task spawned so far, and every task they spawn, has finished
        (services aside).

        Callbacks already scheduled on the loop (coalesced rule checks) run first.
        """
        await asyncio.sleep(0)
        while True:
            pending = self._tasks - self._services - (exclude or set())
            if not pending:
                return
            await asyncio.wait(pending)
            await asyncio.sleep(0)

    async def cancel_all(self, timeout: float = 5.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
