"""A TCP proxy in front of the real PostgreSQL server, for tests that take the database away.

The app under test connects through it. `refuse()` closes every connection and turns new
ones away (a server stopped or restarting); `freeze()` keeps connections open but relays
nothing (a server hung, a network partition that drops packets); `relay()` restores the
link. It runs on the test's own event loop, beside the app it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "relay"
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thawed = asyncio.Event()
        self._thawed.set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._thawed.set()
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._links):
            task.cancel()
        for task in list(self._links):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    def url(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def refuse(self) -> None:
        self.mode = "refuse"
        self._thawed.set()
        self._drop_all()

    def freeze(self) -> None:
        self.mode = "freeze"
        self._thawed.clear()

    def relay(self) -> None:
        """Back to normal; connections that saw the fault are closed (as after a restart)."""
        was_frozen = self.mode == "freeze"
        self.mode = "relay"
        if was_frozen:
            self._drop_all()
        self._thawed.set()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            await self._thawed.wait()  # a frozen server accepts, then never answers
            if self.mode != "relay":
                writer.transport.abort()
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            self._links.discard(task)
            for end in (writer, upstream_writer):
                end.transport.abort()
                self._writers.discard(end)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._thawed.wait()
                if self.mode != "relay":
                    return
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@asynccontextmanager
async def proxy_to(database_url: str) -> AsyncIterator[Proxy]:
    parts = urlsplit(database_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
