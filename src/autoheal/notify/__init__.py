"""Notifications: notices from event records, an outbox in the store, webhook and Apprise channels."""

from __future__ import annotations

from collections.abc import Sequence

from autoheal.notify.apprise_channel import AppriseChannel
from autoheal.notify.base import Channel, Delivery
from autoheal.notify.dispatcher import Dispatcher
from autoheal.notify.notice import Notice, notice_for
from autoheal.notify.notifier import Notifier
from autoheal.notify.settings import EVENTS, NotifySettings, notify_settings
from autoheal.notify.webhook import Webhook

__all__ = [
    "EVENTS",
    "Channel",
    "Delivery",
    "Dispatcher",
    "Notice",
    "Notifier",
    "NotifySettings",
    "channels_for",
    "notice_for",
    "notify_settings",
]


def channels_for(settings: NotifySettings) -> Sequence[Channel]:
    """The configured channels (ValueError for an Apprise URL that Apprise refuses)."""
    channels: list[Channel] = []
    if settings.webhook_url:
        channels.append(
            Webhook(settings.webhook_url, settings.webhook_json_key, settings.webhook_format, settings.timeout_seconds)
        )
    for index, url in enumerate(settings.apprise_urls):
        channels.append(AppriseChannel(url, index))
    return channels
