"""A small STUN/TURN client over UDP, enough to test a TURN server (RFC 5389, 5766, 8656, 6156).

It speaks the requests a browser's ICE agent sends to a TURN server: Binding
(what is my address?), Allocate (give me a relay address) with the long-term
credential mechanism, and CreatePermission (let this peer send to my relay).
It sends no data through the relay, so permitting a peer sends nothing to it.

    client = TurnClient(("127.0.0.1", 3478), username, password)
    client.binding().mapped_address        # ("127.0.0.1", 54321)
    client.allocate().ok                   # True, or .error_code == 401
    client.create_permission("8.8.8.8")    # Response, .error_code == 403 if refused
    client.close()
"""

import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import zlib
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
HEADER = struct.Struct("!HHI12s")  # type, length (after the header), cookie, transaction id

# Methods.
BINDING = 0x001
ALLOCATE = 0x003
REFRESH = 0x004
CREATE_PERMISSION = 0x008

# Classes.
REQUEST = 0b00
INDICATION = 0b01
SUCCESS = 0b10
ERROR = 0b11

# Attributes.
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_ADDRESS_FAMILY = 0x0017
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028

FAMILY_IPV4 = 0x01
FAMILY_IPV6 = 0x02
TRANSPORT_UDP = 17
FINGERPRINT_XOR = 0x5354554E


def message_type(method: int, cls: int) -> int:
    """Interleave the 12 method bits with the 2 class bits (RFC 5389, section 6)."""
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((cls & 0b01) << 4)
        | ((cls & 0b10) << 7)
    )


def split_type(msg_type: int) -> tuple[int, int]:
    """Return (method, class) of a message type."""
    method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    cls = ((msg_type >> 4) & 0b01) | ((msg_type >> 7) & 0b10)
    return method, cls


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """The long-term credential key: MD5(username ":" realm ":" password) (RFC 5389, 15.4)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


def encode_xor_address(ip: str, port: int, transaction_id: bytes) -> bytes:
    """The value of an XOR-*-ADDRESS attribute for ip:port (IPv4 or IPv6)."""
    address = ipaddress.ip_address(ip)
    x_port = port ^ (MAGIC_COOKIE >> 16)
    mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    packed = address.packed
    x_address = bytes(a ^ b for a, b in zip(packed, mask[: len(packed)], strict=True))
    family = FAMILY_IPV4 if address.version == 4 else FAMILY_IPV6
    return struct.pack("!BBH", 0, family, x_port) + x_address


def decode_xor_address(value: bytes, transaction_id: bytes) -> tuple[str, int]:
    """(ip, port) from the value of an XOR-*-ADDRESS attribute."""
    _, family, x_port = struct.unpack_from("!BBH", value)
    size = 4 if family == FAMILY_IPV4 else 16
    mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    packed = bytes(a ^ b for a, b in zip(value[4 : 4 + size], mask[:size], strict=True))
    return str(ipaddress.ip_address(packed)), x_port ^ (MAGIC_COOKIE >> 16)


def _attribute(attr_type: int, value: bytes) -> bytes:
    """One TLV attribute, padded to a multiple of 4 bytes."""
    return struct.pack("!HH", attr_type, len(value)) + value + b"\0" * (-len(value) % 4)


@dataclass
class Message:
    """A STUN message: method, class, transaction id and attributes in order."""

    method: int
    cls: int
    transaction_id: bytes = field(default_factory=lambda: os.urandom(12))
    attributes: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, attr_type: int, value: bytes) -> "Message":
        self.attributes.append((attr_type, value))
        return self

    def get(self, attr_type: int) -> bytes | None:
        """The value of the first attribute of this type, or None."""
        return next((value for t, value in self.attributes if t == attr_type), None)

    def encode(self, key: bytes | None = None, fingerprint: bool = True) -> bytes:
        """Serialize; with `key`, append MESSAGE-INTEGRITY; then FINGERPRINT unless told not to.

        Each of the two is computed over the message so far, with the header's
        length already counting the attribute being added (RFC 5389, 15.4, 15.5).
        """
        body = b"".join(_attribute(t, v) for t, v in self.attributes)
        msg_type = message_type(self.method, self.cls)

        def header(length: int) -> bytes:
            return HEADER.pack(msg_type, length, MAGIC_COOKIE, self.transaction_id)

        if key is not None:
            mac = hmac.new(key, header(len(body) + 24) + body, hashlib.sha1).digest()
            body += _attribute(MESSAGE_INTEGRITY, mac)
        if fingerprint:
            crc = zlib.crc32(header(len(body) + 8) + body) ^ FINGERPRINT_XOR
            body += _attribute(FINGERPRINT, struct.pack("!I", crc))
        return header(len(body)) + body

    @classmethod
    def decode(cls, data: bytes) -> "Message":
        """Parse a message; raise ValueError if it is not a well-formed STUN message."""
        if len(data) < HEADER.size:
            raise ValueError("shorter than a STUN header")
        msg_type, length, cookie, transaction_id = HEADER.unpack_from(data)
        if cookie != MAGIC_COOKIE or msg_type & 0xC000 or length != len(data) - HEADER.size:
            raise ValueError("not a STUN message")
        method, msg_class = split_type(msg_type)
        message = cls(method, msg_class, transaction_id)
        offset = HEADER.size
        while offset < len(data):
            attr_type, attr_len = struct.unpack_from("!HH", data, offset)
            value = data[offset + 4 : offset + 4 + attr_len]
            if len(value) != attr_len:
                raise ValueError("truncated attribute")
            message.attributes.append((attr_type, value))
            offset += 4 + attr_len + (-attr_len % 4)
        return message


def check_integrity(data: bytes, key: bytes) -> bool:
    """True if the raw message `data` has a MESSAGE-INTEGRITY that `key` verifies."""
    offset = HEADER.size
    while offset < len(data):
        attr_type, attr_len = struct.unpack_from("!HH", data, offset)
        if attr_type == MESSAGE_INTEGRITY:
            # The HMAC covers everything before the attribute, the header's
            # length counting up to the attribute's end.
            end = offset + 4 + attr_len
            header = data[:2] + struct.pack("!H", end - HEADER.size) + data[4 : HEADER.size]
            mac = hmac.new(key, header + data[HEADER.size : offset], hashlib.sha1).digest()
            return hmac.compare_digest(mac, data[offset + 4 : end])
        offset += 4 + attr_len + (-attr_len % 4)
    return False


@dataclass
class Response:
    """A server's answer: success or error, its code and reason, and its attributes."""

    message: Message
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.message.cls == SUCCESS

    @property
    def error_code(self) -> int | None:
        """The ERROR-CODE as a number (401, 403, ...), or None for a success."""
        value = self.message.get(ERROR_CODE)
        if value is None:
            return None
        return (value[2] & 0x07) * 100 + value[3]

    @property
    def reason(self) -> str:
        value = self.message.get(ERROR_CODE)
        return value[4:].decode("utf-8", "replace") if value else ""

    def _address(self, attr_type: int) -> tuple[str, int] | None:
        value = self.message.get(attr_type)
        return None if value is None else decode_xor_address(value, self.message.transaction_id)

    @property
    def mapped_address(self) -> tuple[str, int] | None:
        """XOR-MAPPED-ADDRESS: the client's address as the server sees it."""
        return self._address(XOR_MAPPED_ADDRESS)

    @property
    def relayed_address(self) -> tuple[str, int] | None:
        """XOR-RELAYED-ADDRESS: the relay address an Allocate obtained."""
        return self._address(XOR_RELAYED_ADDRESS)

    def __repr__(self) -> str:
        outcome = "success" if self.ok else f"error {self.error_code} {self.reason!r}"
        return f"<Response method={self.message.method:#x} {outcome}>"


class TurnClient:
    """One UDP socket talking to one STUN/TURN server: one client, at most one allocation.

    `username`/`password` are the long-term credentials (for the TURN REST API
    scheme, "<expiry>:<name>" and base64(HMAC-SHA1(secret, username))).
    """

    def __init__(
        self,
        server: tuple[str, int],
        username: str | None = None,
        password: str | None = None,
        timeout: float = 0.5,
        retries: int = 4,
    ):
        self.server = server
        self.username = username
        self.password = password
        self.timeout = timeout
        self.retries = retries
        self.realm: str | None = None
        self.nonce: bytes | None = None
        family = socket.AF_INET6 if ipaddress.ip_address(server[0]).version == 6 else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "TurnClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def key(self) -> bytes | None:
        """The long-term key, once the server has told its realm."""
        if self.realm is None or self.username is None or self.password is None:
            return None
        return long_term_key(self.username, self.realm, self.password)

    def transact(self, request: Message, key: bytes | None = None) -> Response:
        """Send `request` and return the matching response, retransmitting on silence (UDP).

        Raise TimeoutError if the server never answers.
        """
        data = request.encode(key)
        for _ in range(self.retries):
            self.sock.sendto(data, self.server)
            try:
                while True:
                    raw, _ = self.sock.recvfrom(65536)
                    try:
                        message = Message.decode(raw)
                    except ValueError:
                        continue
                    if message.transaction_id == request.transaction_id:
                        return Response(message, raw)
            except TimeoutError:
                continue
        raise TimeoutError(f"no answer from {self.server} to method {request.method:#x}")

    def binding(self) -> Response:
        """A STUN Binding request; the response's mapped_address is our address as seen."""
        return self.transact(Message(BINDING, REQUEST))

    def _authenticated(self, build) -> Response:
        """Send build() with the long-term credentials, learning REALM and NONCE as asked.

        A 401 (no or wrong credentials) or 438 (stale nonce) that carries a new
        NONCE is answered once more with the credentials; a second refusal is
        returned as it is, so that callers can assert on it.
        """
        response = None
        for _ in range(3):
            request = build()
            if self.nonce is not None and self.username is not None:
                request.add(USERNAME, self.username.encode())
                request.add(REALM, (self.realm or "").encode())
                request.add(NONCE, self.nonce)
            response = self.transact(request, self.key if self.nonce is not None else None)
            if response.error_code not in (401, 438) or response.message.get(NONCE) is None:
                return response
            sent_credentials = self.nonce is not None and response.error_code == 401
            self.nonce = response.message.get(NONCE)
            realm = response.message.get(REALM)
            if realm is not None:
                self.realm = realm.decode()
            if sent_credentials or self.username is None:
                return response  # the credentials themselves were refused
        assert response is not None
        return response

    def allocate(self, family: int = FAMILY_IPV4, lifetime: int = 600) -> Response:
        """Allocate a UDP relay address of the given family (FAMILY_IPV4 or FAMILY_IPV6)."""

        def build() -> Message:
            request = Message(ALLOCATE, REQUEST)
            request.add(REQUESTED_TRANSPORT, struct.pack("!B3x", TRANSPORT_UDP))
            request.add(LIFETIME, struct.pack("!I", lifetime))
            if family != FAMILY_IPV4:
                request.add(REQUESTED_ADDRESS_FAMILY, struct.pack("!B3x", family))
            return request

        return self._authenticated(build)

    def create_permission(self, peer_ip: str, peer_port: int = 0) -> Response:
        """Ask the server to let `peer_ip` reach our relay (after a successful allocate()).

        The port is ignored by permissions (RFC 8656, 9) but must be present.
        """

        def build() -> Message:
            request = Message(CREATE_PERMISSION, REQUEST)
            request.add(XOR_PEER_ADDRESS, encode_xor_address(peer_ip, peer_port, request.transaction_id))
            return request

        return self._authenticated(build)

    def refresh(self, lifetime: int = 0) -> Response:
        """Refresh the allocation; lifetime 0 deletes it."""
        return self._authenticated(
            lambda: Message(REFRESH, REQUEST).add(LIFETIME, struct.pack("!I", lifetime))
        )
