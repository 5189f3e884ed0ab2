"""Bearer-token authentication, forged-request protection, and a request size limit."""

from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
