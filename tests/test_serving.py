"""The quiet uvicorn server: serves, refreshes its Date header every tick, stops when asked."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn

from autoheal.serving import STARTUP_FAILURE, QuietServer, serve


async def hello(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_it_serves_and_stops_when_asked():
    port = free_port()
    server = QuietServer(uvicorn.Config(hello, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    server.tick_seconds = 3600  # only the request to exit can end the wait
    task = asyncio.create_task(server._serve())  # noqa: SLF001 - serve() would install signal handlers
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/")

    server.request_exit()
    await asyncio.wait_for(task, 30)  # a guard against a hang, not a timing

    assert response.text == "hello"
    assert response.headers["date"]


async def test_every_tick_refreshes_the_date_header():
    server = QuietServer(uvicorn.Config(hello))
    server.tick_seconds = 0.001
    counters: list[int] = []

    async def on_tick(counter: int) -> bool:
        counters.append(counter)
        return len(counters) == 4

    server.on_tick = on_tick

    await server.main_loop()

    assert counters == [0, 10, 20, 30]  # uvicorn refreshes the Date header when counter % 10 == 0


def test_a_port_in_use_ends_the_process_as_uvicorn_does():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(SystemExit) as stopped:
            serve(hello, host="127.0.0.1", port=port, lifespan="off", log_level="critical")

    assert stopped.value.code == STARTUP_FAILURE


def test_an_app_that_failed_to_start_ends_the_process_as_uvicorn_does():
    async def failing_lifespan(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no"})

    with pytest.raises(SystemExit) as stopped:
        serve(failing_lifespan, host="127.0.0.1", port=free_port(), lifespan="on", log_level="critical")

    assert stopped.value.code == STARTUP_FAILURE
