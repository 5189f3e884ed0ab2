"""The generic JSON webhook: one POST per notice, compatible with the classic tool's payload."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from autoheal.notify.base import Delivery
from autoheal.notify.notice import Notice

if TYPE_CHECKING:
    import httpx

# Worth another try: the receiver is busy, rate limiting, or broken for now.
_RETRYABLE = frozenset({408, 425, 429})


def mask(url: str) -> str:
    """Scheme, host and port only: paths and queries of webhooks often carry the secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


class Webhook:
    """POSTs {json_key: text} (plus the structured fields in "full" format) to one URL."""

    name = "webhook"
    kind = "webhook"

    def __init__(
        self,
        url: str,
        json_key: str = "content",
        fmt: str = "full",
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx  # only when a webhook is configured: importing httpx costs memory at every start
        self.url = url
        self.json_key = json_key
        self.fmt = fmt
        self.target = mask(url)
        # trust_env: outbound notifications may have to go through the host's HTTP proxy.
        self._httpx = httpx
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, trust_env=True, transport=transport
        )

    def payload(self, notice: Notice) -> dict[str, Any]:
        if self.fmt == "text":
            return {self.json_key: notice.text}
        return {**notice.fields(), self.json_key: notice.text}

    async def send(self, notice: Notice) -> Delivery:
        httpx = self._httpx
        started = time.monotonic()
        try:
            response = await self._client.post(self.url, json=self.payload(notice))
        except httpx.TimeoutException:
            return Delivery(False, error="timed out", duration_seconds=time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500], duration_seconds=time.monotonic() - started)
        took = time.monotonic() - started
        code = response.status_code
        if 200 <= code < 300:
            return Delivery(True, status_code=code, duration_seconds=took)
        body = response.text[:200].strip()
        error = f"HTTP {code}" + (f": {body}" if body else "")
        if 300 <= code < 400:
            error += " (redirects are not followed: configure the final URL)"
        retryable = code >= 500 or code in _RETRYABLE
        return Delivery(False, permanent=not retryable, status_code=code, error=error, duration_seconds=took)

    async def close(self) -> None:
        await self._client.aclose()
