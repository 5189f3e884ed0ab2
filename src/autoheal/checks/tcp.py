"""TCP check: a connection to the port opens within the timeout."""

from __future__ import annotations

import asyncio
import os
import time

from autoheal.checks.base import Outcome
from autoheal.checks.definition import CheckDefinition
from autoheal.domain.models import Container


class TcpCheck:
    async def run(self, container: Container, host: str | None, definition: CheckDefinition) -> Outcome:
        if host is None:
            return Outcome(False, "no address to dial")
        target = f"{host}:{definition.tcp_port}"
        started = time.monotonic()
        try:
            async with asyncio.timeout(definition.timeout_seconds):
                _, writer = await asyncio.open_connection(host, definition.tcp_port)
        except TimeoutError:
            return Outcome(
                False,
                f"timed out after {definition.timeout_seconds:g}s",
                time.monotonic() - started,
                target,
            )
        except OSError as exc:
            # asyncio puts "Connect call failed (...)" in strerror; the errno says why ("Connection refused").
            reason = (
                os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else exc.strerror or str(exc)
            )
            return Outcome(False, reason, time.monotonic() - started, target)
        latency = time.monotonic() - started
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return Outcome(True, "connected", latency, target)
