"""Shared request helpers: the service, and resolving a container reference."""

from __future__ import annotations

import re

from fastapi import HTTPException, Request

from autoheal.domain.models import Container
from autoheal.engine.service import Service

_HEX = re.compile(r"[0-9a-f]{1,64}")


def get_service(request: Request) -> Service:
    return request.app.state.service


def find_container(service: Service, ref: str) -> Container:
    """An id, a unique id prefix, or a name, from the live view (no engine call)."""
    containers = service.healer.containers
    if ref in containers:
        return containers[ref]
    for container in list(containers.values()):
        if container.name == ref:
            return container
    if _HEX.fullmatch(ref):
        matches = [c for c in list(containers.values()) if c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise HTTPException(409, f"id prefix {ref!r} matches {len(matches)} containers; give more of the id")
    raise HTTPException(404, f"no container with id, id prefix or name {ref[:80]!r}")
