"""An ASGI transport that several httpx2 clients can share and enter and leave in any order.

``httpx2.websockets.ASGIWebSocketTransport`` keeps one task group per ``__aenter__``; when a
session client and two reconnecting streamers share it, a client leaving would close the task
group another one entered, and two concurrent handshakes race on a shared ``self.scope``. Here
the websocket tasks live in one task group owned by a background task that runs until
:meth:`aclose`, and each handshake carries its own scope.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any, Self

import anyio
from httpx2 import Request, Response
from httpx2.websockets import ASGIWebSocketTransport
from httpx2.websockets._transport import ASGIWebSocketAsyncNetworkStream


class InProcessTransport(ASGIWebSocketTransport):
    def __init__(self, app: Any) -> None:
        super().__init__(app, initial_receive_timeout=5.0)
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._owner is None:
            self._owner = asyncio.ensure_future(self._own())
        await self._ready.wait()

    async def _own(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            self._exit_stack = stack
            self._ready.set()
            await self._stop.wait()
            self._task_group.cancel_scope.cancel()

    async def aclose(self) -> None:
        self._stop.set()
        if self._owner is not None:
            await asyncio.gather(self._owner, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc_val: BaseException | None = None,
                        exc_tb: TracebackType | None = None) -> None:
        return None

    async def _handle_ws_request(self, request: Request, scope: Any) -> Response:
        async def open_stream(*, task_status: Any) -> None:
            stream = ASGIWebSocketAsyncNetworkStream(self.app, scope, self._task_group,
                                                     self._initial_receive_timeout)
            task_status.started(await self._exit_stack.enter_async_context(stream))

        stream, accept = await self._task_group.start(open_stream)
        lines = accept.decode("utf-8").splitlines()
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line.strip()]
        return Response(status_code=101, headers=headers,
                        extensions={"network_stream": stream})
