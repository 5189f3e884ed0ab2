"""What is worth telling: event filters, per-container mute, no repeats, and degraded/recovered."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from autoheal.domain.labels import truthy
from autoheal.domain.records import Record
from autoheal.notify.dispatcher import Dispatcher
from autoheal.notify.notice import Notice, notice_for
from autoheal.notify.settings import NotifySettings

MUTE_LABEL = "autoheal.notify"
DEGRADED_HOLD_SECONDS = 30.0  # a blip, or a slow first pass at start, is not worth a message


class Notifier:
    """Turns event records and self-health into notices for the dispatcher."""

    def __init__(
        self,
        settings: NotifySettings,
        dispatcher: Dispatcher,
        host: str,
        labels_of: Callable[[str], Mapping[str, str] | None] = lambda container_id: None,
        on_suppressed: Callable[[str], None] = lambda reason: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.host = host
        self._labels_of = labels_of
        self._on_suppressed = on_suppressed
        self._clock = clock
        self._last: dict[str, tuple[str, float]] = {}  # container id ("" for autoheal) -> last event sent
        self._degraded_since: float | None = None
        self._told_degraded = False

    @property
    def enabled(self) -> bool:
        return bool(self.dispatcher.channels)

    def observe(self, record: Record) -> None:
        """Called for every event record; cheap when nothing is configured."""
        if not self.enabled:
            return
        notice = notice_for(record, self.host)
        if notice is not None:
            self.offer(notice)

    def offer(self, notice: Notice) -> bool:
        """Queue the notice unless filtered, muted or a repeat; says whether it was queued."""
        subscribed = "degraded" if notice.event == "recovered" else notice.event
        if subscribed not in self.settings.events:
            self._on_suppressed("filtered")
            return False
        labels = self._labels_of(notice.container_id) if notice.container_id else None
        if labels and truthy(labels.get(MUTE_LABEL)) is False:
            self._on_suppressed("muted")
            return False
        last = self._last.get(notice.container_id)
        if last and last[0] == notice.event and notice.time - last[1] < self.settings.repeat_seconds:
            self._on_suppressed("repeat")
            return False
        self._last[notice.container_id] = (notice.event, notice.time)
        self.dispatcher.enqueue(notice)
        return True

    def health(self, ok: bool, problems: Sequence[str]) -> None:
        """Called now and then with autoheal's self-health: one notice when it degrades for
        longer than DEGRADED_HOLD_SECONDS, one when it recovers."""
        if not self.enabled:
            return
        now = self._clock()
        self._forget_old(now)
        if not ok:
            if self._degraded_since is None:
                self._degraded_since = now
            if not self._told_degraded and now - self._degraded_since >= DEGRADED_HOLD_SECONDS:
                self._told_degraded = True
                self.offer(Notice("degraded", self.host, now, "; ".join(problems) or "degraded"))
            return
        self._degraded_since = None
        if self._told_degraded:
            self._told_degraded = False
            self.offer(Notice("recovered", self.host, now, "healing again"))

    def _forget_old(self, now: float) -> None:
        """Per-container memory lasts only as long as it can suppress a repeat."""
        horizon = now - self.settings.repeat_seconds
        for key in [k for k, (_, at) in self._last.items() if at < horizon]:
            del self._last[key]
