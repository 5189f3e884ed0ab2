"""A custom health check definition, validated as a whole (field names as in the brief)."""

from __future__ import annotations

import re
import shlex
from typing import Annotated
from urllib.parse import urlsplit
from collections.abc import Mapping
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

_NEEDED = {"http": "http_endpoint", "tcp": "tcp_port", "exec": "exec_command"}
_RANGE = re.compile(r"^\s*(\d{3})\s*-\s*(\d{3})\s*$")

# label -> field, for checks defined by container labels (a compose file carries its checks)
CHECK_LABELS = {
    "autoheal.check.type": "check_type",
    "autoheal.check.port": "port",
    "autoheal.check.path": "http_endpoint",
    "autoheal.check.status": "http_expected_status",
    "autoheal.check.command": "exec_command",
    "autoheal.check.interval": "interval_seconds",
    "autoheal.check.timeout": "timeout_seconds",
    "autoheal.check.retries": "retries",
}


class CheckDefinition(BaseModel):
    """What to check on one container, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_type: Literal["http", "tcp", "exec", "docker"]
    http_endpoint: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        validate_default=True,
        description="A URL (localhost, 127.0.0.1 or {container_ip} mean the container), or a path such as /health",
    )
    http_port: int = Field(80, ge=1, le=65535, description="Port for an http_endpoint that is a path")
    http_method: Literal["GET", "HEAD"] = "GET"
    http_expected_status: int | list[int] | str = Field(
        "200-399", description="One status code, a list, or a range such as 200-399"
    )
    http_expected_body: str | None = Field(None, min_length=1, max_length=1024)
    http_insecure: bool = Field(False, description="Accept a self-signed certificate")
    tcp_port: int | None = Field(None, ge=1, le=65535, validate_default=True)
    exec_command: list[Annotated[str, Field(min_length=1, max_length=4096)]] | None = Field(
        None, min_length=1, max_length=64, validate_default=True
    )
    interval_seconds: float = Field(30, ge=1, le=86400)
    timeout_seconds: float = Field(10, gt=0, le=3600)
    retries: int = Field(3, ge=1, le=100)
    start_period_seconds: float = Field(0, ge=0, le=86400)

    @field_validator("http_endpoint", "tcp_port", "exec_command")
    @classmethod
    def _required_for_the_kind(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("check_type")
        if value is None and _NEEDED.get(kind) == info.field_name:
            raise ValueError(f"required for an {kind} check" if kind == "exec" else f"required for a {kind} check")
        return value

    @field_validator("http_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None or value.startswith("/"):
            return value
        parts = urlsplit(value.replace("{container_ip}", "container"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be a path such as /health, or an http(s) URL with a host")
        try:
            port = parts.port  # raises ValueError for a port out of range
        except ValueError:
            port = 0
        if port == 0 or any(c.isspace() for c in parts.hostname):
            raise ValueError("the URL needs a valid host and a port between 1 and 65535")
        return value

    @field_validator("http_expected_body")
    @classmethod
    def _body_needs_get(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("http_method") == "HEAD":
            raise ValueError("a HEAD request has no body to look in; use GET")
        return value

    @field_validator("http_expected_status")
    @classmethod
    def _statuses(cls, value: int | list[int] | str) -> int | list[int] | str:
        codes = [value] if isinstance(value, int) else value if isinstance(value, list) else None
        if codes is not None:
            if not codes or any(not 100 <= c <= 599 for c in codes):
                raise ValueError("status codes must be between 100 and 599")
            return value
        match = _RANGE.match(value)
        if not match or not 100 <= int(match[1]) <= int(match[2]) <= 599:
            raise ValueError("a range looks like 200-399 (codes between 100 and 599)")
        return f"{match[1]}-{match[2]}"

    def status_ok(self, code: int) -> bool:
        expected = self.http_expected_status
        if isinstance(expected, int):
            return code == expected
        if isinstance(expected, list):
            return code in expected
        low, _, high = expected.partition("-")
        return int(low) <= code <= int(high)


def from_labels(labels: Mapping[str, str]) -> tuple[CheckDefinition | None, str]:
    """The check a container's labels define (None if none); the second value says what was wrong."""
    raw = {field: labels[label] for label, field in CHECK_LABELS.items() if label in labels}
    if not raw:
        return None, ""
    doc: dict[str, object] = {"check_type": raw.pop("check_type", "").strip().lower()}
    port = raw.pop("port", None)
    try:
        if port is not None:
            doc["tcp_port" if doc["check_type"] == "tcp" else "http_port"] = int(port)
        if "exec_command" in raw:
            doc["exec_command"] = shlex.split(raw.pop("exec_command"))
        if "http_expected_status" in raw:
            status = raw.pop("http_expected_status").strip()
            doc["http_expected_status"] = int(status) if status.isdigit() else status
        for field in ("interval_seconds", "timeout_seconds"):
            if field in raw:
                doc[field] = float(raw.pop(field))
        if "retries" in raw:
            doc["retries"] = int(raw.pop("retries"))
        doc.update(raw)
        if doc["check_type"] == "http" and "http_endpoint" not in doc:
            doc["http_endpoint"] = "/"
        return CheckDefinition.model_validate(doc), ""
    except ValidationError as exc:
        # The first line of str(exc) names no field ("1 validation error for ..."): say what was wrong.
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'check'}: {e['msg']}" for e in exc.errors())
        return None, f"check labels ignored: {why}"[:300]
    except ValueError as exc:
        return None, f"check labels ignored: {exc}".splitlines()[0][:300]
