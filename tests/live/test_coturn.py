"""A real coturn with the app's credential scheme, and the shipped deploy/turnserver.conf.

The TURN REST API scheme: username "<unix expiry time>:<name>/<nonce>", password
base64(HMAC-SHA1(secret, username)), made by the app's chat/turn/credentials.py; coturn
(`use-auth-secret`) recomputes it and refuses expired usernames. Each test talks
to coturn over UDP on loopback with tests/support/turn_client.py. The shipped
config's text, read without a coturn, is tests/unit/test_turnserver_conf.py.
"""

import itertools
import socket
import ssl
import time

import pytest

from chat.turn import credentials as ice
from tests.support.coturn import Coturn
from tests.support.paths import ROOT
from tests.support.turn_client import FAMILY_IPV4, FAMILY_IPV6, TurnClient, check_integrity

SHIPPED_CONFIG = ROOT / "deploy" / "turnserver.conf"
SECRET = "coturn-test-secret"
REALM = "turn.test"
_names = itertools.count()


def turn_credentials(name: str, secret: str = SECRET, ttl: int = 600) -> tuple[str, str]:
    """(username, password) as the app makes them, valid for `ttl` seconds (negative: expired)."""
    return ice.turn_credentials(secret, name, ttl, time.time())


def unique_name() -> str:
    """A fresh name per client, so that no test meets another's allocations (user-quota)."""
    return f"user{next(_names)}"


@pytest.fixture(scope="module")
def test_coturn(tmp_path_factory):
    """coturn with a minimal test config: the app's scheme, loopback peers allowed."""
    config = tmp_path_factory.mktemp("coturn-test") / "turnserver.conf"
    config.write_text(
        "use-auth-secret\n"
        f"static-auth-secret={SECRET}\n"
        f"realm={REALM}\n"
        "fingerprint\n"
        "relay-ip=127.0.0.1\n"
        # The only place this may appear: the test's own relay peer is on loopback.
        "allow-loopback-peers\n"
        "no-tls\n"
        "no-dtls\n"
    )
    server = Coturn(config)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shipped_coturn(tls_files):
    """coturn with deploy/turnserver.conf as it is, plus only these command-line settings:
    the secret, loopback relay addresses (IPv4 and IPv6), the test certificate, and
    (in Coturn) loopback listening address, free ports, log, pid file and user database."""
    cert, key = tls_files
    server = Coturn(
        SHIPPED_CONFIG,
        *("--static-auth-secret", SECRET),
        *("--relay-ip", "127.0.0.1", "--relay-ip", "::1"),
        *("--cert", str(cert), "--pkey", str(key)),
    )
    yield server
    server.stop()


def allocated_client(server: Coturn, family: int = FAMILY_IPV4) -> TurnClient:
    """A client with a fresh valid credential and a successful allocation."""
    client = server.client(*turn_credentials(unique_name()))
    response = client.allocate(family)
    if not response.ok:
        pytest.fail(f"Allocate failed: {response}. coturn's log:\n{server.output()}", pytrace=False)
    return client


@pytest.fixture
def relay_v4(shipped_coturn):
    """A client with an IPv4 relay allocation on the shipped config."""
    client = allocated_client(shipped_coturn, FAMILY_IPV4)
    yield client
    client.refresh(0)


@pytest.fixture
def relay_v6(shipped_coturn):
    """A client with an IPv6 relay allocation (relay address ::1) on the shipped config."""
    client = allocated_client(shipped_coturn, FAMILY_IPV6)
    yield client
    client.refresh(0)


# --- The credential scheme against a test config ---------------------------------------------------


def test_stun_binding_answers_with_the_mapped_address(test_coturn):
    client = test_coturn.client()
    response = client.binding()
    assert response.ok
    assert response.mapped_address == ("127.0.0.1", client.sock.getsockname()[1])


def test_allocate_without_credentials_is_challenged_with_realm_and_nonce(test_coturn):
    client = test_coturn.client()
    response = client.allocate()
    assert response.error_code == 401
    assert client.realm == REALM
    assert client.nonce


def test_allocate_with_a_valid_credential_succeeds(test_coturn):
    client = test_coturn.client(*turn_credentials(unique_name()))
    response = client.allocate()
    assert response.ok, response
    assert response.relayed_address[0] == "127.0.0.1"
    assert response.mapped_address == ("127.0.0.1", client.sock.getsockname()[1])
    # coturn signed its answer with the same long-term key: both sides agree on it.
    assert check_integrity(response.raw, client.key)
    # A relay peer on loopback is allowed here (allow-loopback-peers).
    assert client.create_permission("127.0.0.1", 9).ok
    assert client.refresh(0).ok


def _tampered(username: str, password: str) -> tuple[str, str]:
    flipped = "A" if password[0] != "A" else "B"
    return username, flipped + password[1:]


def _expired(username: str, password: str) -> tuple[str, str]:
    return turn_credentials(unique_name(), ttl=-60)


def _other_secret(username: str, password: str) -> tuple[str, str]:
    return turn_credentials(unique_name(), secret="not-the-secret")


def _renamed(username: str, password: str) -> tuple[str, str]:
    return username + "x", password


@pytest.mark.parametrize(
    "spoil", [_tampered, _expired, _other_secret, _renamed], ids=lambda f: f.__name__[1:]
)
def test_allocate_with_a_bad_credential_is_refused_401(test_coturn, spoil):
    username, password = spoil(*turn_credentials(unique_name()))
    client = test_coturn.client(username, password)
    response = client.allocate()
    assert response.error_code == 401, response


# --- The shipped config ----------------------------------------------------------------------------


def test_shipped_config_accepts_the_scheme_and_refuses_a_tampered_password(shipped_coturn):
    client = shipped_coturn.client(*turn_credentials(unique_name()))
    response = client.allocate()
    assert response.ok, response
    assert client.realm == "turn.example.org"
    assert client.refresh(0).ok
    client = shipped_coturn.client(*_tampered(*turn_credentials(unique_name())))
    assert client.allocate().error_code == 401


def test_shipped_config_tls_listener_serves_its_certificate(shipped_coturn, tls_files):
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    with (
        socket.create_connection(("127.0.0.1", shipped_coturn.tls_port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(
    "peer",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
    ],
)
def test_shipped_config_refuses_internal_ipv4_peers(relay_v4, peer):
    response = relay_v4.create_permission(peer, 80)
    assert response.error_code == 403, response


@pytest.mark.parametrize(
    "peer",
    [
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "fd00::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001:2::1",
        "2002:a00:1::1",
    ],
)
def test_shipped_config_refuses_internal_ipv6_peers(relay_v6, peer):
    response = relay_v6.create_permission(peer, 80)
    assert response.error_code == 403, response


@pytest.mark.parametrize("peer", ["8.8.8.8", "1.1.1.1"])
def test_shipped_config_permits_public_ipv4_peers(relay_v4, peer):
    # A permission sends nothing to the peer: this works without a network.
    response = relay_v4.create_permission(peer, 3478)
    assert response.ok, response


@pytest.mark.parametrize("peer", ["2001:4860:4860::8888", "2606:4700:4700::1111"])
def test_shipped_config_permits_public_ipv6_peers(relay_v6, peer):
    response = relay_v6.create_permission(peer, 3478)
    assert response.ok, response
