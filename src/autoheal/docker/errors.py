"""Errors the Docker adapter raises, in the service's own terms."""


class EngineUnavailable(Exception):
    """The engine cannot be reached or did not answer; retry later."""


class ContainerGone(Exception):
    """The container no longer exists."""


class ActionFailed(Exception):
    """The engine refused or failed an action; the message is the engine's own text."""

