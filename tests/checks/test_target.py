"""Address resolution: which IP a check dials for a container, or why it dials none."""

from __future__ import annotations

import hashlib

from autoheal.checks.target import LOOPBACK, resolve
from autoheal.domain.models import Container


def container(name: str, *, networks: dict[str, str] | None = None, network_mode: str = "bridge") -> Container:
    return Container(
        id=hashlib.sha256(name.encode()).hexdigest(),
        name=name,
        network_mode=network_mode,
        networks=networks or {},
    )


def index(*containers: Container) -> dict[str, Container]:
    return {c.id: c for c in containers}


def test_it_picks_the_ip_on_a_network_shared_with_autoheal():
    web = container("web", networks={"alpha": "10.0.0.2", "backend": "10.1.0.2"})
    own = container("autoheal", networks={"backend": "10.1.0.9"})

    address = resolve(web, index(web, own), own)

    assert address.host == "10.1.0.2"
    assert "backend" in address.why and "shared" in address.why


def test_with_autoheal_on_the_host_it_takes_the_first_network_by_name():
    web = container("web", networks={"zeta": "10.9.0.2", "alpha": "10.0.0.2"})

    address = resolve(web, index(web), None)

    assert address.host == "10.0.0.2"
    assert "alpha" in address.why
    assert "unreachable" not in address.why


def test_a_network_without_an_ip_is_passed_over():
    web = container("web", networks={"alpha": "", "beta": "10.2.0.2"})

    assert resolve(web, index(web), None).host == "10.2.0.2"


def test_with_no_shared_network_it_takes_the_first_network_and_warns_it_may_be_unreachable():
    web = container("web", networks={"zeta": "10.9.0.2", "alpha": "10.0.0.2"})
    own = container("autoheal", networks={"other": "10.5.0.9"})

    address = resolve(web, index(web, own), own)

    assert address.host == "10.0.0.2"
    assert "may be unreachable" in address.why


def test_host_networking_is_the_loopback_when_autoheal_runs_on_the_host():
    web = container("web", network_mode="host")

    address = resolve(web, index(web), None)

    assert address.host == LOOPBACK == "127.0.0.1"


def test_host_networking_is_the_loopback_when_autoheal_is_host_networked_too():
    web = container("web", network_mode="host")
    own = container("autoheal", network_mode="host")

    assert resolve(web, index(web, own), own).host == LOOPBACK


def test_host_networking_has_no_address_from_a_bridged_autoheal_and_says_why():
    web = container("web", network_mode="host")
    own = container("autoheal", networks={"bridge": "172.17.0.9"})

    address = resolve(web, index(web, own), own)

    assert address.host is None
    assert "host networking" in address.why


def test_a_container_sharing_another_by_id_gets_the_parents_address():
    parent = container("vpn", networks={"alpha": "10.0.0.7"})
    child = container("app", network_mode=f"container:{parent.id}")

    address = resolve(child, index(parent, child), None)

    assert address.host == "10.0.0.7"
    assert "vpn" in address.why


def test_a_container_sharing_another_by_short_id_gets_the_parents_address():
    parent = container("vpn", networks={"alpha": "10.0.0.7"})
    child = container("app", network_mode=f"container:{parent.id[:12]}")

    assert resolve(child, index(parent, child), None).host == "10.0.0.7"


def test_a_container_sharing_another_by_name_gets_the_parents_address():
    parent = container("vpn", networks={"alpha": "10.0.0.7"})
    child = container("app", network_mode="container:vpn")

    assert resolve(child, index(parent, child), None).host == "10.0.0.7"


def test_the_parent_is_resolved_as_seen_from_autoheal():
    parent = container("vpn", networks={"alpha": "10.0.0.7", "backend": "10.1.0.7"})
    child = container("app", network_mode="container:vpn")
    own = container("autoheal", networks={"backend": "10.1.0.9"})

    assert resolve(child, index(parent, child, own), own).host == "10.1.0.7"


def test_a_parent_autoheal_cannot_see_gives_no_address_and_says_why():
    child = container("app", network_mode="container:" + "f" * 64)

    address = resolve(child, index(child), None)

    assert address.host is None
    assert "f" * 12 in address.why and "cannot see" in address.why


def test_a_cycle_of_shared_networks_ends_with_no_address():
    a = container("a", network_mode="container:b")
    b = container("b", network_mode="container:a")

    assert resolve(a, index(a, b), None).host is None


def test_network_mode_none_has_no_address():
    web = container("web", network_mode="none", networks={"none": ""})

    address = resolve(web, index(web), None)

    assert address.host is None
    assert "none" in address.why


def test_a_container_with_no_ip_has_no_address():
    web = container("web", networks={"alpha": ""})

    address = resolve(web, index(web), None)

    assert address.host is None
    assert "no IP address" in address.why
