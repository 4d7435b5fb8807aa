"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive requests and Server-Sent Events
streams over plain asyncio streams.

httpx costs several milliseconds of CPU per request once a client holds a few hundred
connections (its pool is searched on every request), so with 200 browsers streaming the load
generator, not the server, set the pace on a 2-core machine. This client parses only what the
benchmarks need: a status line, headers, a ``Content-Length`` or chunked body, and SSE ``data:``
lines. It is not used by the product.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(reader, writer, parts.netloc)

    def close(self) -> None:
        self.writer.close()

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    async def _head(self) -> tuple[int, dict[str, str]]:
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                return status, headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            size = int((await self.reader.readline()).split(b";", 1)[0], 16)
            if size == 0:
                await self.reader.readline()  # the blank line after the last chunk
                return
            data = await self.reader.readexactly(size)
            await self.reader.readexactly(2)
            yield data

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, dict[str, str], bytes]:
        self._send(method, path, headers or {}, body)
        status, head = await self._head()
        if head.get("transfer-encoding") == "chunked":
            data = b"".join([c async for c in self._chunks()])
        else:
            data = await self.reader.readexactly(int(head.get("content-length", "0")))
        return status, head, data

    async def post_json(
        self, path: str, payload: Any, headers: dict[str, str] | None = None
    ) -> Any:
        status, _, data = await self.request(
            "POST",
            path,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=json.dumps(payload).encode(),
        )
        if status >= 400:
            raise HttpError(status, data)
        return json.loads(data)

    async def events(self, path: str, headers: dict[str, str]) -> AsyncIterator[str]:
        """The ``data`` of each Server-Sent Event until the stream ends."""
        self._send("GET", path, {"Accept": "text/event-stream", **headers}, b"")
        status, head = await self._head()
        if status != 200 or head.get("transfer-encoding") != "chunked":
            raise HttpError(status, await self.reader.read(300))
        buffer = b""
        async for chunk in self._chunks():
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if line.startswith(b"data: "):
                        yield line[6:].decode()


class Pool:
    """Idle keep-alive connections to one server, opened as needed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.idle: list[Connection] = []

    async def acquire(self) -> Connection:
        return self.idle.pop() if self.idle else await Connection.open(self.url)

    def release(self, conn: Connection) -> None:
        self.idle.append(conn)

    async def post_json(
        self, path: str, payload: Any, headers: dict[str, str] | None = None
    ) -> Any:
        conn = await self.acquire()
        try:
            result = await conn.post_json(path, payload, headers)
        except BaseException:
            conn.close()
            raise
        self.release(conn)
        return result

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
