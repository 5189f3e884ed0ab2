"""Where a container can be reached from autoheal: the address a check dials, or why there is none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autoheal.domain.models import Container

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Address:
    host: str | None
    why: str  # how the address was chosen, or why there is none


def resolve(
    container: Container,
    containers: Mapping[str, Container],
    own: Container | None,
    depth: int = 0,
) -> Address:
    """The IP on a network autoheal shares with the container, else its first network's IP; the
    parent's address for `container:X`; the host's loopback for host networking."""
    mode = container.network_mode
    if mode == "host":
        if own is None or own.network_mode == "host":
            return Address(LOOPBACK, "host networking: the host's loopback")
        return Address(
            None,
            "the container uses host networking; autoheal must run on the host or with network_mode: host",
        )
    if mode.startswith("container:"):
        ref = mode.partition(":")[2]
        parent = containers.get(ref) or next(
            (c for c in containers.values() if c.name == ref or c.id.startswith(ref)),
            None,
        )
        if parent is None or depth > 3:
            return Address(None, f"shares the network of {ref[:12]}, which autoheal cannot see")
        found = resolve(parent, containers, own, depth + 1)
        return Address(found.host, f"network of {parent.name}: {found.why}")
    if mode == "none":
        return Address(None, "network_mode none: no address")
    with_ip = {name: ip for name, ip in sorted(container.networks.items()) if ip}
    if not with_ip:
        return Address(None, "no IP address on any network (is it running?)")
    if own is not None:
        shared = [name for name in with_ip if name in own.networks]
        if shared:
            return Address(with_ip[shared[0]], f"network {shared[0]} (shared with autoheal)")
    name = next(iter(with_ip))
    why = f"network {name}" if own is None else f"network {name} (not shared with autoheal: may be unreachable)"
    return Address(with_ip[name], why)
