"""deploy/turnserver.conf read as text: no secrets, the required options, every internal range denied.

A real coturn running it is tests/live/test_coturn.py.
"""

import ipaddress

import pytest

from tests.support.paths import ROOT

SHIPPED_CONFIG = ROOT / "deploy" / "turnserver.conf"

# Every range that must be refused. ::/128 is missing on purpose: coturn refuses it by
# itself, and coturn 4.6 misreads a denied-peer-ip entry starting at "::" (see the file);
# tests/live/test_coturn.py's test_shipped_config_refuses_internal_ipv6_peers checks that it is refused.
MUST_DENY = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2001:2::/48",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]


def shipped_options() -> list[tuple[str, str | None]]:
    """(name, value or None) of every uncommented line of the shipped config."""
    options = []
    for line in SHIPPED_CONFIG.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        options.append((name.strip().lstrip("-"), value.strip() if sep else None))
    return options


def denied_ranges(options) -> list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]]:
    ranges = []
    for name, value in options:
        if name == "denied-peer-ip":
            first, _, last = value.partition("-")
            ranges.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return ranges


def test_shipped_config_has_no_static_users_or_secrets_and_no_loopback_peers():
    names = {name for name, _ in shipped_options()}
    for forbidden in ("user", "lt-cred-mech", "allow-loopback-peers", "static-auth-secret", "no-auth"):
        assert forbidden not in names, f"deploy/turnserver.conf must not set {forbidden}"


def test_shipped_config_sets_the_required_options():
    names = {name for name, _ in shipped_options()}
    for required in (
        "use-auth-secret",
        "realm",
        "fingerprint",
        "no-cli",
        "no-multicast-peers",
        "stale-nonce",
    ):
        assert required in names, f"deploy/turnserver.conf must set {required}"


@pytest.mark.parametrize("network", MUST_DENY)
def test_shipped_config_denies_every_internal_range(network):
    net = ipaddress.ip_network(network)
    ranges = [(a, b) for a, b in denied_ranges(shipped_options()) if a.version == net.version]
    # Walk the network from its first address, jumping over each range that covers it.
    current = int(net.network_address)
    progress = True
    while current <= int(net.broadcast_address) and progress:
        progress = False
        for first, last in ranges:
            if int(first) <= current <= int(last):
                current = int(last) + 1
                progress = True
    assert current > int(net.broadcast_address), (
        f"{network} is not covered from {type(net.network_address)(current)}"
    )
