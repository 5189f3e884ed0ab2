"""A counting unix-socket proxy between autoheal and dockerd: every engine API request, timestamped."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

_REQUEST = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]$")
_EVENT = re.compile(rb'"id":"([0-9a-f]{64})".*?"Action":"([^"]+)".*?"timeNano":(\d+)')
_VERSION = re.compile(r"^/v\d+\.\d+")
_ID = re.compile(r"/[0-9a-f]{64}")


def kind_of(path: str) -> str:
    """A request path without version, query and container id: /containers/{id}/json."""
    path = _VERSION.sub("", path.split("?", 1)[0])
    return _ID.sub("/{id}", path)


class CountingProxy:
    """Listens on a unix socket in a thread of its own and forwards each connection to the engine."""

    def __init__(self, listen: Path, engine: str = "/var/run/docker.sock") -> None:
        self.listen = listen
        self.engine = engine
        self.requests: list[tuple[float, str, str, str]] = []  # (time, method, kind, container id or "")
        self.delivered: dict[tuple[str, str, int], float] = {}  # (id, action, timeNano) -> when relayed to autoheal
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def docker_host(self) -> str:
        return f"unix://{self.listen}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_unix_server(self._handle, path=str(self.listen)))
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.engine)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer, count=True), self._pipe(up_reader, writer, count=False),
                             return_exceptions=True)
        for w in (writer, up_writer):
            w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: bool) -> None:
        pending = b""
        try:
            while data := await reader.read(65536):
                now = time.time()
                if count:  # request lines are whole lines of the client's stream
                    lines = (pending + data).split(b"\r\n")
                    pending = lines.pop()[-4096:]
                    for line in lines:
                        if match := _REQUEST.match(line):
                            path = match[2].decode()
                            cid = _ID.search(path)
                            self.requests.append((now, match[1].decode(), kind_of(path), cid[0][1:] if cid else ""))
                else:  # engine events are one JSON object a line
                    lines = (pending + data).split(b"\n")
                    pending = lines.pop()[-65536:]
                    for line in lines:
                        if b'"timeNano"' in line and (match := _EVENT.search(line)):
                            self.delivered[(match[1].decode(), match[2].decode(), int(match[3]))] = now
                writer.write(data)
                await writer.drain()
        finally:
            if writer.can_write_eof():
                try:
                    writer.write_eof()
                except OSError:
                    pass

    def first_call(self, kind: str, cid: str, after: float, timeout: float = 30) -> float:
        """When the first request of this kind about this container after `after` passed the proxy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((r[0] for r in list(self.requests) if r[0] > after and r[2] == kind and r[3] == cid), None)
            if found is not None:
                return found
            time.sleep(0.01)
        calls = [(round(r[0] - after, 3), r[2]) for r in self.requests if r[3] == cid and r[0] > after - 5]
        raise TimeoutError(f"no {kind} call for {cid[:12]}; its calls around then: {calls}")

    def calls_about(self, cid: str, start: float, end: float) -> list[str]:
        return [r[2] for r in list(self.requests) if r[3] == cid and start <= r[0] <= end and r[1] == "POST"]

    def relayed(self, cid: str, action: str, time_nano: int, timeout: float = 30) -> float:
        """When the engine event (as stamped by the engine) passed the proxy on its way to autoheal."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (cid, action, time_nano) in self.delivered:
                return self.delivered[(cid, action, time_nano)]
            time.sleep(0.01)
        raise TimeoutError(f"event {action} of {cid[:12]} never relayed")

    def between(self, start: float, end: float) -> list[tuple[float, str, str, str]]:
        return [r for r in self.requests if start <= r[0] < end]

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self.listen.unlink(missing_ok=True)
