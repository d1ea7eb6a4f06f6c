"""WebSocket frames (RFC 6455) as a client sends them, built by hand: opcodes, close codes, masking."""

import struct

from chat.serving.eventlet_mask import apply_mask

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
TOO_BIG = 1009  # the close status of a message over the limit


def client_frame(opcode: int, payload: bytes, fin: bool = True, key: bytes = b"mask") -> bytes:
    """One masked client frame."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", fin << 7 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", fin << 7 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", fin << 7 | opcode, 0x80 | 127, length)
    return head + key + apply_mask(payload, key)
