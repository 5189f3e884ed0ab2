"""Engine access: the aiodocker adapter, its errors, and a scripted fake for unit tests."""

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable

__all__ = ["ActionFailed", "ContainerGone", "EngineUnavailable"]
