"""Errors map to HTTP in one place: 4xx naming the field, 404, 503 for the engine; never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from autoheal.config import ConfigError
from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.store.db import StoreError

log = logging.getLogger(__name__)


def _body(status: int, detail: str, errors: list[dict] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "(body)"


def _error(e: dict) -> dict:
    if e.get("type") == "json_invalid":  # its loc is ("body", character offset), not a field
        return {"field": "(body)", "message": f"invalid JSON: {e.get('ctx', {}).get('error', e.get('msg'))}"}
    return {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return _body(422, detail, errors)

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> JSONResponse:
        errors = []
        for part in str(exc).split("; "):
            field, sep, message = part.partition(": ")
            if not sep and errors:  # the previous message goes on after a "; ", it is not another error
                errors[-1]["message"] += f"; {part}"
                continue
            errors.append({"field": field if sep else "(document)", "message": message if sep else part})
        return _body(422, str(exc), errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _body(exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        if exc.status_code == 405:
            # Starlette lists one route's methods; a path can have several routes.
            response.headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return response

    @app.exception_handler(ContainerGone)
    async def gone(request: Request, exc: ContainerGone) -> JSONResponse:
        return _body(404, f"container {str(exc)[:64]} no longer exists")

    @app.exception_handler(ActionFailed)
    async def action_failed(request: Request, exc: ActionFailed) -> JSONResponse:
        return _body(409, f"the engine refused: {exc}")

    @app.exception_handler(EngineUnavailable)
    async def engine_down(request: Request, exc: EngineUnavailable) -> JSONResponse:
        return _body(503, f"Docker engine unavailable: {exc}")

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error while serving %s: %s", request.url.path, exc)
        return _body(503, "the state store is unavailable; nothing was changed")
