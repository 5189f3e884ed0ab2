"""The HTTP application: REST API, self-health and metrics; startup and shutdown in one lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_asgi_app, start_http_server

from autoheal import __version__
from autoheal.api import config, containers, errors, events, healthchecks, notifications, status
from autoheal.api.schemas import ErrorBody
from autoheal.api.security import BodyLimit, Guard, HostCheck
from autoheal.engine.service import Service

log = logging.getLogger(__name__)

_ERRORS = {
    400: {"model": ErrorBody, "description": "Request body that cannot be read (not UTF-8 or not JSON), or a Host header that is not allowed"},
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "A state change from a web page of a host that is not allowed (Origin header)"},
    404: {"model": ErrorBody, "description": "No such container"},
    409: {"model": ErrorBody, "description": "Conflict with the current state"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    415: {"model": ErrorBody, "description": "State changes need a JSON body or an X-Requested-With header"},
    422: {"model": ErrorBody, "description": "Invalid input; `errors` names each field"},
    503: {"model": ErrorBody, "description": "Docker engine or state store unavailable"},
}


def create_app(
    service: Service,
    *,
    token: str | None = None,
    metrics_host: str = "127.0.0.1",
    metrics_port: int = 0,
    manage_service: bool = True,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The app for one service. metrics_port 0 serves metrics only at /metrics of this app;
    manage_service False leaves starting and stopping the service to the caller.

    allowed_hosts: the host names requests may address (Host header, and the Origin of a state
    change) besides localhost, 127.0.0.1 and [::1]; "*" allows any; None turns the check off.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics_server = None
        if metrics_port:
            metrics_server, _ = start_http_server(metrics_port, metrics_host, registry=service.metrics.registry)
            log.info("metrics on http://%s:%d/metrics", metrics_host, metrics_port)
        if manage_service:
            await service.start()
        try:
            yield
        finally:
            if manage_service:
                await service.stop()
            if metrics_server is not None:
                await asyncio.to_thread(metrics_server.shutdown)

    app = FastAPIOffline(
        title="autoheal",
        version=__version__,
        description="Keeps Docker containers alive. Every /api request needs `Authorization: Bearer <token>` "
        "when a token is configured; requests that change state need a JSON body or an X-Requested-With header.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(BodyLimit)
    app.add_middleware(HostCheck, allowed=allowed_hosts)  # added last: runs first
    errors.install(app)
    guard = [Depends(Guard(token))]
    for module in (status, containers, config, events, healthchecks, notifications):
        app.include_router(module.router, dependencies=guard, responses=_ERRORS)

    @app.get(
        "/health",
        summary="Self-health: 200 when autoheal can heal, 503 with the reasons when it cannot",
        responses={503: {"description": "Degraded; `problems` says why"}},
    )
    async def health() -> JSONResponse:
        ok, body = service.health()
        body["version"] = __version__
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Served here directly: the mount below alone would answer /metrics with a redirect."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.mount("/metrics", make_asgi_app(registry=service.metrics.registry))
    return app
