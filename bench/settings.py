"""The autoheal settings each measurement runs with, so that the result files can quote them."""

from __future__ import annotations

from typing import Any


def watching(label_key: str) -> dict[str, Any]:
    """Defaults (30 s reconcile, max_parallel 4, 30/min rate limit …), managing only the run's containers."""
    return {"monitor": {"label_key": label_key}}


def reacting(label_key: str, max_parallel: int = 4) -> dict[str, Any]:
    """Reaction, not policy: no cooldown or backoff, rate limit and restart budget out of the way."""
    return {
        "monitor": {"label_key": label_key},
        "restart": {
            "cooldown_seconds": 0,
            "backoff": {"enabled": False},
            "max_restarts": 10000,
            "rate_limit_per_minute": 10000,
            "max_parallel": max_parallel,
        },
    }
