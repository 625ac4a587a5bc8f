"""A TCP relay on loopback between the browser and the node's API port, which a test can cut like a
network break (every connection aborted at once), and which keeps what the browser sent."""

from __future__ import annotations

import asyncio
import contextlib


class CuttableRelay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent = bytearray()
        """Every byte the browser sent, all connections together (requests are plain HTTP)."""
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Starts listening; returns the URL to give the browser instead of the node's."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def cut(self) -> None:
        """Abort every open connection, both ways (new ones are relayed again)."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer, keep=True),
                self._pipe(upstream_reader, writer, keep=False),
            )
        finally:
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.transport.abort()
            self._tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, keep: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if keep:
                    self.sent += data
                writer.write(data)
                await writer.drain()
        # One side ended or was cut: so is the other.
        writer.transport.abort()
