"""Configuration endpoints: read, replace, per-section update, export, import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from autoheal.api.deps import get_service
from autoheal.api.schemas import ImportOut
from autoheal.config import (
    ConfigError,
    MonitorSettings,
    RestartSettings,
    Settings,
    parse_settings,
)
from autoheal.engine.service import Service
from autoheal.portable import SCHEMA_VERSION, parse_text

router = APIRouter(prefix="/api", tags=["configuration"])


def _schema_body(model: type) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@router.get("/config", response_model=Settings, summary="The running configuration")
async def get_config(service: Service = Depends(get_service)) -> Settings:
    return service.settings


@router.put(
    "/config",
    response_model=Settings,
    summary="Replace the whole configuration (fields left out take their defaults)",
    openapi_extra=_schema_body(Settings),
)
async def put_config(
    document: dict[str, Any] = Body(...),
    service: Service = Depends(get_service),
) -> Settings:
    settings = parse_settings(document, strict=True)
    await service.apply_settings(settings, why="replaced through the API")
    return service.settings


@router.put(
    "/config/monitor",
    response_model=Settings,
    summary="Update monitor settings (fields left out keep their value)",
    openapi_extra=_schema_body(MonitorSettings),
)
async def put_monitor(
    document: dict[str, Any] = Body(...),
    service: Service = Depends(get_service),
) -> Settings:
    await service.update_section("monitor", document, why="monitor updated through the API")
    return service.settings


@router.put(
    "/config/restart",
    response_model=Settings,
    summary="Update the restart policy (fields left out keep their value)",
    openapi_extra=_schema_body(RestartSettings),
)
async def put_restart(
    document: dict[str, Any] = Body(...),
    service: Service = Depends(get_service),
) -> Settings:
    await service.update_section("restart", document, why="restart updated through the API")
    return service.settings


@router.get("/config/export", summary=f"The whole configuration as a versioned document (schema {SCHEMA_VERSION})")
async def export_config(service: Service = Depends(get_service)) -> JSONResponse:
    return JSONResponse(
        service.export_config(), headers={"Content-Disposition": 'attachment; filename="autoheal-config.json"'}
    )


@router.post(
    "/config/import",
    response_model=ImportOut,
    summary="Replace the configuration from an exported document (JSON body, or multipart field `file`)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                               "required": ["file"]}
                },
            },
        }
    },
)
async def import_config(request: Request, service: Service = Depends(get_service)) -> ImportOut:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ConfigError("file: a file upload is required")
        text = await upload.read()
    else:
        text = await request.body()
    settings, choices = parse_text(text)
    changed = await service.apply_settings(settings, choices=choices, why="imported")
    return ImportOut(changed=changed)
