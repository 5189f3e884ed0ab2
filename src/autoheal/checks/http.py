"""HTTP check: a GET (or HEAD) answered with an expected status (and body text) within the timeout."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from autoheal.checks.base import Outcome
from autoheal.checks.definition import CheckDefinition
from autoheal.domain.models import Container

if TYPE_CHECKING:
    import httpx

_SELF_HOSTS = {"localhost", "127.0.0.1", "::1", "{container_ip}"}


def url_for(definition: CheckDefinition, host: str | None) -> str | None:
    """The URL to dial: `localhost`, `127.0.0.1` and `{container_ip}` mean the container itself;
    a path alone means the container on http_port."""
    endpoint = definition.http_endpoint or "/"
    if endpoint.startswith("/"):
        return None if host is None else f"http://{_bracket(host)}:{definition.http_port}{endpoint}"
    if host is not None:
        # As the URL's host an IPv6 address needs its brackets; elsewhere (path, query) it does not.
        endpoint = endpoint.replace("//{container_ip}", "//" + _bracket(host)).replace("{container_ip}", host)
    parts = urlsplit(endpoint)
    if parts.hostname in _SELF_HOSTS or "{container_ip}" in endpoint:
        if host is None:
            return None
        netloc = _bracket(host) + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return endpoint


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class HttpCheck:
    """Keeps two clients (verifying, and not for http_insecure): building one per run costs a TLS
    context, synchronously, on the event loop. Each is built at its first run, and httpx is imported
    only then: with no HTTP check configured, autoheal carries neither (about 9 MiB of RSS)."""

    def __init__(self) -> None:
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, verify: bool) -> httpx.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            import httpx

            # No proxy from the environment: it cannot reach a container's own address.
            client = httpx.AsyncClient(verify=verify, follow_redirects=False, trust_env=False)
            self._clients[verify] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def run(self, container: Container, host: str | None, definition: CheckDefinition) -> Outcome:
        url = url_for(definition, host)
        if url is None:
            return Outcome(False, "no address to dial")
        import httpx

        started = time.monotonic()
        client = self._client(not definition.http_insecure)
        try:
            response = await client.request(definition.http_method, url, timeout=definition.timeout_seconds)
        except httpx.TimeoutException:
            return Outcome(
                False,
                f"timed out after {definition.timeout_seconds:g}s",
                time.monotonic() - started,
                url,
            )
        except httpx.HTTPError as exc:
            return Outcome(
                False,
                f"{type(exc).__name__}: {exc}"[:300],
                time.monotonic() - started,
                url,
            )
        latency = time.monotonic() - started
        if not definition.status_ok(response.status_code):
            return Outcome(False, f"status {response.status_code}", latency, url)
        if definition.http_expected_body and definition.http_expected_body not in response.text:
            return Outcome(
                False,
                f"status {response.status_code}, expected text not in the body",
                latency,
                url,
            )
        return Outcome(True, f"status {response.status_code}", latency, url)
