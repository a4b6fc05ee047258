"""A user's webhook receiver for the live benchmark (issue 13): a bare asyncio HTTP/1.1 server
in the driver process that notes when each tagged SMS arrives and answers 200 at once. Bare,
not Starlette: its share of the two cores must stay small beside the server's."""

from __future__ import annotations

import asyncio
import json
import time


class Receiver:
    def __init__(self, tag_marker: str, tag_length: int) -> None:
        self.marker, self.length = tag_marker, tag_length
        self.arrivals: list[tuple[str, float]] = []  # (tag, time.monotonic()) per POST
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):  # wait_closed waits for open connections
                writer.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while await reader.readline():  # the request line; empty when the peer closed
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                arrived = time.monotonic()
                text = json.loads(body)["text"]
                start = text.find(self.marker)
                if start >= 0:
                    tag = text[start + len(self.marker) : start + len(self.marker) + self.length]
                    self.arrivals.append((tag, arrived))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()
