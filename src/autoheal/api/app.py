"""The HTTP application: self-health and metrics; startup and shutdown in one lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app, start_http_server

from autoheal import __version__
from autoheal.engine.service import Service

log = logging.getLogger(__name__)


def create_app(service: Service, *, metrics_host: str = "127.0.0.1", metrics_port: int = 0) -> FastAPI:
    """The app for one service; metrics_port 0 serves metrics only at /metrics of this app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics_server = None
        if metrics_port:
            metrics_server, thread = start_http_server(metrics_port, metrics_host, registry=service.metrics.registry)
            log.info("metrics on http://%s:%d/metrics", metrics_host, metrics_port)
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            if metrics_server is not None:
                await asyncio.to_thread(metrics_server.shutdown)

    app = FastAPI(title="autoheal", version=__version__, lifespan=lifespan)

    @app.get("/health", summary="Self-health: 200 when autoheal can heal, 503 with the reasons when it cannot")
    async def health() -> JSONResponse:
        ok, body = service.health()
        body["version"] = __version__
        return JSONResponse(body, status_code=200 if ok else 503)

    app.mount("/metrics", make_asgi_app(registry=service.metrics.registry))
    return app
