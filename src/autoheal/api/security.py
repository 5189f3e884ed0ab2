"""Bearer-token authentication, forged-request protection, Host checking, and a request size limit."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def load_token(token: str | None, token_file: str | None) -> str | None:
    """AUTOHEAL_API_TOKEN, else the first line of AUTOHEAL_API_TOKEN_FILE; None means open."""
    if token and token.strip():
        return token.strip()
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read AUTOHEAL_API_TOKEN_FILE {token_file}: {exc.strerror or exc}") from None
        if not text:
            raise ValueError(f"AUTOHEAL_API_TOKEN_FILE {token_file} is empty")
        return text.splitlines()[0].strip()
    return None


class Guard:
    """The /api dependency: a valid token if one is set, and no state change a foreign page could forge."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    async def __call__(self, request: Request) -> None:
        if self._token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
                raise HTTPException(401, "a valid 'Authorization: Bearer <token>' header is required",
                                    headers={"WWW-Authenticate": "Bearer"})
        if request.method in _UNSAFE:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            # A cross-site form can send neither a JSON content type nor a custom header without a
            # CORS preflight, which autoheal never grants.
            if content_type != "application/json" and "x-requested-with" not in request.headers:
                raise HTTPException(
                    415, "requests that change state need 'Content-Type: application/json' or an 'X-Requested-With' header"
                )


class BodyLimit:
    """Refuses request bodies over MAX_BODY_BYTES with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send, self.limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing passes it on instead of turning it into a 400."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail": "request body larger than %d bytes", "errors": []}' % limit
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def host_name(value: str) -> str:
    """The host of a Host header, bind address or allowed-hosts entry: lower case, without the
    port, an IPv6 address in brackets ("[::1]")."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end != -1 else value
    if value.count(":") > 1:  # a bare IPv6 address such as a bind address "::1"
        return f"[{value}]"
    return value.partition(":")[0]


def origin_host(origin: str) -> str:
    """The host of an Origin header; "" for "null" or anything that is not scheme://host[:port]."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    return host_name(parts.netloc.rpartition("@")[2])


class HostCheck:
    """Against DNS rebinding: a request must name an allowed host in its Host header (else 400),
    and a state change that carries an Origin header must come from an allowed host (else 403).

    allowed None, or an entry "*", turns both checks off. The loopback names are always allowed
    otherwise; entries may carry a port, which is ignored.
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str] | None = None) -> None:
        self.app = app
        names = None if allowed is None else {host_name(h) for h in allowed if h.strip()}
        self.any_host = names is None or "*" in names
        self.allowed = frozenset(LOOPBACK_HOSTS) | (names or set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any_host or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if host_name(headers.get("host", "")) not in self.allowed:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await JSONResponse({"detail": "host not allowed", "errors": []}, status_code=400)(scope, receive, send)
            return
        origin = headers.get("origin")
        if (
            scope["type"] == "http"
            and scope["method"] in _UNSAFE
            and origin is not None
            and origin_host(origin) not in self.allowed
        ):
            await JSONResponse({"detail": "origin not allowed", "errors": []}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
