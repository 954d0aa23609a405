"""Reading what a server wrote to a socket, as a client reads it."""

from __future__ import annotations


def parse_frame(data: bytes) -> tuple[int, bytes]:
    """(opcode, payload) of one unmasked frame, as a client reads it (RFC 6455 5.2)."""
    assert data[0] & 0x80, "FIN is set"
    assert not data[1] & 0x80, "a server frame is not masked"
    size, offset = data[1] & 0x7F, 2
    if size == 126:
        size, offset = int.from_bytes(data[2:4], "big"), 4
    elif size == 127:
        size, offset = int.from_bytes(data[2:10], "big"), 10
    assert len(data) == offset + size
    return data[0] & 0x0F, data[offset:]
