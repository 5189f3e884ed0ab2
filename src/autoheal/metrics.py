"""Prometheus metrics: each declared once, against a registry that can be passed in."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """The service's metrics; gauges of current state are computed at scrape time."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.restarts = Counter(
            "autoheal_container_restarts",
            "Restarts (or starts) autoheal made, by cause (crash, oom, unhealthy) and outcome "
            "(restarted, failed, gone).",
            ("cause", "outcome"),
            registry=r,
        )
        self.healthy = Gauge(
            "autoheal_healthy",
            "1 when autoheal can heal (what /health answers 200 for), 0 when it is degraded.",
            registry=r,
        )
        self.monitored = Gauge("autoheal_containers_monitored", "Containers autoheal currently manages.", registry=r)
        self.quarantined = Gauge(
            "autoheal_containers_quarantined", "Managed containers autoheal has given up on.", registry=r
        )
        self.detect_to_restart = Histogram(
            "autoheal_detection_to_restart_seconds",
            "Time from detecting a failure to the restart call (includes backoff and cooldown).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.restart_duration = Histogram(
            "autoheal_restart_duration_seconds",
            "Time the engine took to carry out a restart or start call.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reconnects = Counter(
            "autoheal_event_stream_reconnects", "Times the engine event stream was lost and reconnected.", registry=r
        )
        self.held = Counter(
            "autoheal_restarts_held_back",
            "Restarts that had to wait for the concurrency limit (max_parallel) or the rate limit.",
            ("limit",),
            registry=r,
        )
        for limit in ("max_parallel", "rate_limit"):
            self.held.labels(limit)
        self.checks = Counter(
            "autoheal_health_checks", "Custom health check runs, by kind (http, tcp, exec).", ("kind",), registry=r
        )
        self.checks_failed = Counter(
            "autoheal_health_checks_failed",
            "Custom health check runs that failed, by kind (http, tcp, exec).",
            ("kind",),
            registry=r,
        )
        for kind in ("http", "tcp", "exec"):
            self.checks.labels(kind)
            self.checks_failed.labels(kind)
        self.notifications = Counter(
            "autoheal_notifications",
            "Notification delivery attempts, by channel kind (webhook, apprise) and outcome (sent; retry: failed, "
            "will try again; failed: given up, permanent error or attempts used up).",
            ("channel", "outcome"),
            registry=r,
        )
        self.notifications_suppressed = Counter(
            "autoheal_notifications_suppressed",
            "Notices not sent, by reason (filtered: event not subscribed; muted: autoheal.notify=false; "
            "repeat: same event for the same container within repeat_seconds).",
            ("reason",),
            registry=r,
        )
        for channel in ("webhook", "apprise"):
            for outcome in ("sent", "retry", "failed"):
                self.notifications.labels(channel, outcome)
        for reason in ("filtered", "muted", "repeat"):
            self.notifications_suppressed.labels(reason)

    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None:
        self.restarts.labels(cause, outcome).inc()
        self.detect_to_restart.observe(max(detect_seconds, 0.0))
        self.restart_duration.observe(max(duration_seconds, 0.0))

    def check_ran(self, kind: str, ok: bool) -> None:
        self.checks.labels(kind).inc()
        if not ok:
            self.checks_failed.labels(kind).inc()

    def notified(self, channel: str, outcome: str) -> None:
        self.notifications.labels(channel, outcome).inc()

    def notice_suppressed(self, reason: str) -> None:
        self.notifications_suppressed.labels(reason).inc()

    def held_back(self, limit: str) -> None:
        self.held.labels(limit).inc()

    def reconnected(self) -> None:
        self.reconnects.inc()

    def watch_state(
        self, monitored: Callable[[], int], quarantined: Callable[[], int], healthy: Callable[[], bool] = lambda: True
    ) -> None:
        """Compute the state gauges from the service when scraped."""
        self.monitored.set_function(monitored)
        self.quarantined.set_function(quarantined)
        self.healthy.set_function(lambda: 1 if healthy() else 0)
