"""Who a client is, and the per-client limits that key on it.

- `client_address(scope or request)`: the client's IP address. The direct
  peer, unless that peer is one of `TRUSTED_PROXIES`
  (`DJANGO_TRUSTED_PROXIES`): then the rightmost address in
  `X-Forwarded-For` that is not itself a trusted proxy. Everything left of
  that is whatever the client chose to send, so it is never read.
- `client_key(...)`: what the limits count by: the address, except that an
  IPv6 address counts by its /64 (one subscriber usually holds a whole /64,
  and could otherwise take a fresh allowance per address).
- `OpenConnections`: open connections per client in this process (the caps
  on the live demo's and the network check's streams and sockets).
- `ClientRates`: a token bucket per client (the writes' rate limit, the
  demo's sends).

All of it is per process: with several server processes each counts its own
connections and writes (docs/deploy.md).
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from advisor.limits import RateLimiter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Of a longer X-Forwarded-For only the last this many characters are read:
# each hop adds one entry at the right end, and the left is the client's.
MAX_FORWARDED_CHARS = 2048
# The client behind a trusted proxy whose X-Forwarded-For cannot be read (not
# an address: no allow list takes it; the limits count all such as one).
UNREADABLE = "unreadable-x-forwarded-for"


def client_address(source: Mapping[str, Any] | HttpRequest) -> str | None:
    """The client's IP address from an ASGI scope or a Django request; None if unknown.

    Unknown means the server gave no peer address (a Unix socket, a test
    scope without "client"): such connections are not counted per client.
    `UNREADABLE` when a trusted proxy's X-Forwarded-For cannot be read.
    """
    peer, forwarded = _peer_and_forwarded(source)
    return resolve(peer, forwarded, trusted_proxies())


def address_to_judge(source: Mapping[str, Any] | HttpRequest) -> IPAddress | None:
    """The client's address for an allow list (/metrics), or None if none may be judged.

    None when the client is unknown or `UNREADABLE`; when a trusted proxy's
    header names only trusted proxies (that address came out of a header,
    and a host inside a trusted network, 10.0.0.0/8 say, could have written
    it to pass for the proxy itself, or for loopback); and when a peer that
    is not a trusted proxy sends X-Forwarded-For: most likely a proxy on
    this host that DJANGO_TRUSTED_PROXIES forgot, whose own address
    (loopback) would let every client through it pass.
    """
    peer, forwarded = _peer_and_forwarded(source)
    trusted = trusted_proxies()
    address = parse_ip(resolve(peer, forwarded, trusted) or "")
    if address is None:
        return None
    if forwarded is not None:
        peer_ip = parse_ip(peer or "")
        if peer_ip is None or not _is_trusted(peer_ip, trusted) or _is_trusted(address, trusted):
            return None
    return address


def _peer_and_forwarded(source: Mapping[str, Any] | HttpRequest) -> tuple[str | None, str | None]:
    if isinstance(source, HttpRequest):
        return source.META.get("REMOTE_ADDR"), source.META.get("HTTP_X_FORWARDED_FOR")
    client = source.get("client")
    peer = client[0] if client else None
    # Several header lines make one list, in order (RFC 9110 5.3), as
    # Django joins them for META.
    lines = [
        value.decode("latin-1")
        for name, value in source.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    return peer, ",".join(lines) if lines else None


def from_trusted_proxy(source: Mapping[str, Any] | HttpRequest) -> bool:
    """Whether the direct peer is one of TRUSTED_PROXIES: only then may a header
    that the proxy sets (X-Forwarded-For, X-Advisor-Via, X-Request-ID) be believed."""
    peer, _ = _peer_and_forwarded(source)
    address = parse_ip(peer) if peer else None
    return address is not None and _is_trusted(address, trusted_proxies())


def resolve(peer: str | None, forwarded: str | None, trusted: tuple[Network, ...]) -> str | None:
    """The client address, given the peer, its X-Forwarded-For and the trusted proxies.

    Behind a trusted proxy the answer always comes from the header, never the
    peer: the peer is the proxy, often 127.0.0.1, which the loopback-only
    defaults (ADVISOR_METRICS_ALLOW) would let through. A header that cannot
    be read gives `UNREADABLE`: no allow list takes it, and every such
    client counts as one for the limits.
    """
    if not peer:
        return None
    peer_ip = parse_ip(peer)
    if peer_ip is None:
        # Not an address (a test client's made-up name): the peer it is.
        return peer
    if forwarded is None or not _is_trusted(peer_ip, trusted):
        # Anyone can send the header: only a trusted proxy's is believed.
        return str(peer_ip)
    truncated = len(forwarded) > MAX_FORWARDED_CHARS
    if truncated:
        # Only the right end matters (each proxy appends its peer there); the
        # rest is what the client sent. The first entry of the tail may be
        # cut, so it is dropped.
        _, comma, forwarded = forwarded[-MAX_FORWARDED_CHARS:].partition(",")
        if not comma:
            return UNREADABLE
    entries = forwarded.split(",")
    for entry in reversed(entries):
        address = parse_ip(entry)
        if address is None:
            # A malformed entry where only trusted proxies wrote.
            return UNREADABLE
        if not _is_trusted(address, trusted):
            return str(address)
    if truncated:
        return UNREADABLE
    # Every hop is a trusted proxy (a health check from inside, through the
    # proxy). The leftmost entry is whatever the first hop chose to send, so
    # the client is the hop our own proxy saw: the rightmost entry.
    # `address_to_judge` refuses it to allow lists all the same.
    return str(parse_ip(entries[-1]))


def parse_ip(text: str) -> IPAddress | None:
    """An IP address as a proxy may write it, or None: "1.2.3.4", "1.2.3.4:80",
    "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443"."""
    text = text.strip()
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not _is_port(port.removeprefix(":"))):
            return None
    elif text.count(":") == 1:
        # IPv4 with a port (IPv6 has two colons or more).
        text, _, port = text.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d: the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()


def _is_trusted(address: IPAddress, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    # Validated when the settings load (advisor/settings.py); cached because
    # every connection and write asks.
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_key(source: Mapping[str, Any] | HttpRequest) -> str | None:
    """What the per-client limits count by (see the module's docstring); None if unknown."""
    address = client_address(source)
    if address is None:
        return None
    ip = parse_ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


class Slot:
    """One open connection counted for a client; released once, however often asked."""

    def __init__(self, counts: OpenConnections, key: str | None) -> None:
        self._counts = counts
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._counts._release(self._key)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class OpenConnections:
    """Open connections per client in this process, each under a cap.

    Touched only when a connection opens or closes, never per event, so the
    feed's fan-out pays nothing for it. `acquire` gives a `Slot` (use it as a
    context manager, or release it in a `finally`), or None when the client
    already holds `limit` (0: no cap). A client whose address is unknown is
    not counted. Used on the event loop only (the ASGI streams and consumers).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._open: dict[str, int] = {}

    def acquire(self, key: str | None, limit: int) -> Slot | None:
        if key is None:
            return Slot(self, None)
        held = self._open.get(key, 0)
        if limit and held >= limit:
            return None
        self._open[key] = held + 1
        return Slot(self, key)

    def _release(self, key: str | None) -> None:
        if key is None:
            return
        held = self._open.get(key, 0) - 1
        # Forgotten at zero: the table holds only clients with open connections.
        if held > 0:
            self._open[key] = held
        else:
            self._open.pop(key, None)

    def count(self, key: str | None = None) -> int:
        """Open connections of one client, or of every counted client."""
        if key is None:
            return sum(self._open.values())
        return self._open.get(key, 0)


class ClientRates:
    """A token bucket per client, the least recently seen forgotten past `size` clients.

    `rates()` gives (per second, burst), read at each check so a settings
    change applies; a rate of 0 means no limit. Called from Django's sync
    views (a thread per request) as well as async ones, hence the lock.
    """

    def __init__(
        self,
        rates: Callable[[], tuple[float, float]],
        *,
        size: int = 4096,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._rates = rates
        self._size = size
        self._clock = clock
        self._buckets: OrderedDict[str, RateLimiter] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str | None) -> float:
        """0 and one token taken if `key` may go ahead; else the seconds until it may."""
        rate, burst = self._rates()
        if not rate or key is None:
            return 0.0
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
                extra = {} if self._clock is None else {"clock": self._clock}
                bucket = RateLimiter(rate, burst=burst, **extra)
            self._buckets[key] = bucket
            while len(self._buckets) > self._size:
                self._buckets.popitem(last=False)
            return 0.0 if bucket.allow() else bucket.wait()

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def _write_rates() -> tuple[float, float]:
    return settings.ADVISOR_WRITES_PER_SECOND, settings.ADVISOR_WRITE_BURST


# Every write of the site from one client draws on one bucket: new
# assessments and network checks over the API, new assessments and
# revisions from the forms.
writes = ClientRates(_write_rates, size=10_000)


def write_refusal(request: HttpRequest) -> tuple[str, str] | None:
    """None if this client may write now (one write counted); else (message, Retry-After)."""
    wait = writes.wait(client_key(request))
    if not wait:
        return None
    rate, burst = _write_rates()
    seconds = retry_after(wait)
    return (
        f"Too many changes from your address (at most {rate:g} a second, {burst:g} at once); "
        f"nothing was saved. Try again in {seconds} s.",
        seconds,
    )
