"""A client that sends a request, then never reads: the slow client of the limit tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import httpx


@contextlib.contextmanager
def unread_connection(url: str, request: str, *, timeout: float) -> Iterator[socket.socket]:
    """Connect to `url`'s host, send `request` (with its Host header added), yield the socket."""
    address = httpx.URL(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Small buffers and segments: otherwise the loopback kernel buffers take
    # about a megabyte of the feed before daphne's own buffer starts to grow.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.settimeout(timeout)
    try:
        sock.connect((address.host, address.port))
        line, _, rest = request.partition("\r\n")
        host = f"Host: {address.netloc.decode()}\r\n"
        sock.sendall(f"{line}\r\n{host}{rest}".encode())
        yield sock
    finally:
        sock.close()
