"""A fast WebSocket unmasking for eventlet.

Browsers mask every frame they send (RFC 6455), and eventlet's WebSocket
unmasks them one byte at a time, making a bytes object per byte: a 5.4 KB SDP
offer cost about 2 ms of CPU before the app saw it. This does the same XOR
on whole integers. Only installed when the app runs in eventlet mode.
"""


def apply_mask(data: bytes, mask, length: int | None = None, offset: int = 0) -> bytes:
    """eventlet's RFC6455WebSocket._apply_mask, same arguments and result."""
    if length is None:
        length = len(data)
    if length <= 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    stream = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(data[:length], "little") ^ int.from_bytes(stream, "little")
    return masked.to_bytes(length, "little")


def install() -> None:
    """Replace eventlet's per-byte unmasking with apply_mask."""
    from eventlet.websocket import RFC6455WebSocket

    RFC6455WebSocket._apply_mask = staticmethod(apply_mask)
