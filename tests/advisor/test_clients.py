"""advisor/clients.py: who the client is, and the per-client counters and rates."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from advisor.clients import (
    MAX_FORWARDED_CHARS,
    UNREADABLE,
    ClientRates,
    OpenConnections,
    address_to_judge,
    client_address,
    client_key,
    parse_ip,
    retry_after,
)

PROXY = "10.0.0.2"


def scope(peer: str | None, *forwarded: str) -> dict:
    return {
        "type": "http",
        "client": None if peer is None else [peer, 51000],
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


def request(peer: str, forwarded: str | None = None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=peer, **headers)


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = [PROXY, "192.168.0.0/16", "2001:db8:ffff::/48"]


# Without trusted proxies: the peer, whatever the header says --------------------------------


def test_peer_from_scope_and_request():
    assert client_address(scope("203.0.113.7")) == "203.0.113.7"
    assert client_address(request("203.0.113.7")) == "203.0.113.7"


def test_spoofed_header_from_untrusted_peer_ignored(proxies):
    assert client_address(scope("203.0.113.7", "1.2.3.4")) == "203.0.113.7"
    assert client_address(request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


def test_header_ignored_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(scope(PROXY, "1.2.3.4")) == PROXY


def test_no_peer_is_unknown():
    assert client_address(scope(None, "1.2.3.4")) is None
    assert client_address({"type": "websocket"}) is None
    assert client_key({"type": "websocket"}) is None


# From a trusted proxy: the rightmost address that is not a trusted proxy ---------------------


def test_trusted_proxy_header_names_the_client(proxies):
    assert client_address(scope(PROXY, "198.51.100.9")) == "198.51.100.9"
    assert client_address(request(PROXY, "198.51.100.9")) == "198.51.100.9"


def test_chain_rightmost_untrusted_wins_over_what_the_client_wrote(proxies):
    # The client wrote 1.1.1.1 itself; the proxies appended the real address.
    forwarded = "1.1.1.1, 198.51.100.9, 192.168.4.4"
    assert client_address(scope(PROXY, forwarded)) == "198.51.100.9"
    assert client_address(request(PROXY, forwarded)) == "198.51.100.9"


def test_several_header_lines_read_as_one_list(proxies):
    assert client_address(scope(PROXY, "1.1.1.1", "198.51.100.9, 192.168.4.4")) == "198.51.100.9"


def test_all_hops_trusted_gives_the_hop_our_proxy_saw(proxies):
    # The leftmost is whatever the first hop sent: it never decides.
    assert client_address(scope(PROXY, "192.168.1.1, 10.0.0.2")) == "10.0.0.2"
    assert client_address(scope(PROXY, "192.168.1.1, 192.168.9.9")) == "192.168.9.9"


def test_all_hops_trusted_judged_by_no_allow_list(settings):
    settings.TRUSTED_PROXIES = [PROXY, "192.168.0.0/16", "127.0.0.1"]
    # A host inside a trusted network claiming loopback or a proxy's address.
    assert address_to_judge(scope(PROXY, "127.0.0.1, 192.168.9.9")) is None
    assert address_to_judge(scope(PROXY, "192.168.1.1")) is None


def test_address_to_judge_the_forwarded_client_or_the_direct_peer(proxies):
    assert str(address_to_judge(scope(PROXY, "198.51.100.9"))) == "198.51.100.9"
    # No header: the direct peer is the client, proxy or not.
    assert str(address_to_judge(scope(PROXY))) == PROXY
    assert str(address_to_judge(scope("127.0.0.1"))) == "127.0.0.1"


def test_address_to_judge_none_for_a_header_from_an_untrusted_peer(proxies):
    assert address_to_judge(scope("127.0.0.1", "203.0.113.9")) is None


def test_long_header_read_from_its_right_end(proxies):
    # nginx appends the real client to whatever the client sent.
    spoof = "127.0.0.1," * 300 + "203.0.113.9"
    assert len(spoof) > MAX_FORWARDED_CHARS
    assert client_address(scope(PROXY, spoof)) == "203.0.113.9"
    assert client_address(request(PROXY, spoof)) == "203.0.113.9"
    assert str(address_to_judge(scope(PROXY, spoof))) == "203.0.113.9"


def test_long_header_of_trusted_hops_only_unreadable(proxies):
    forwarded = "192.168.1.1," * 300 + "10.0.0.2"
    assert client_address(scope(PROXY, forwarded)) == UNREADABLE


def test_long_header_without_a_comma_in_its_tail_unreadable(proxies):
    assert client_address(scope(PROXY, "9" * 5000)) == UNREADABLE


def test_unreadable_clients_count_as_one(proxies):
    assert (
        client_key(scope(PROXY, "garbage")) == client_key(scope(PROXY, "nonsense")) == UNREADABLE
    )
    assert address_to_judge(scope(PROXY, "garbage")) is None


def test_cidr_network_trusted_as_peer(proxies):
    assert client_address(scope("192.168.77.1", "198.51.100.9")) == "198.51.100.9"


def test_ipv6_peer_and_chain(proxies):
    assert client_address(scope("2001:db8:ffff::1", "2001:DB8:1::5")) == "2001:db8:1::5"
    assert client_address(scope("2001:db8:ffff::1", "[2001:db8:1::5]:443")) == "2001:db8:1::5"
    assert client_address(scope("2001:db8:1::5", "1.2.3.4")) == "2001:db8:1::5"


def test_ipv4_mapped_peer_is_the_ipv4_client(proxies):
    assert client_address(scope("::ffff:10.0.0.2", "198.51.100.9")) == "198.51.100.9"
    assert client_address(scope("::ffff:203.0.113.7")) == "203.0.113.7"


def test_port_on_an_ipv4_entry_taken(proxies):
    assert client_address(scope(PROXY, "198.51.100.9:5123")) == "198.51.100.9"


@pytest.mark.parametrize(
    "forwarded",
    [
        "",
        " ",
        "garbage",
        "198.51.100.9,,",
        "198.51.100.9, unknown",
        "198.51.100.9:port",
        "198.51.100.999",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "１.２.３.４",
        "198.51.100.9\x00",
        "1.2.3.4, " * 2000,
    ],
    ids=[
        "empty",
        "blank",
        "word",
        "empty-entries",
        "unknown-entry",
        "bad-port",
        "bad-octet",
        "open-bracket",
        "junk-after-bracket",
        "full-width-digits",
        "nul",
        "too-long",
    ],
)
def test_malformed_header_from_trusted_proxy_unreadable_never_the_proxy(proxies, forwarded):
    assert client_address(scope(PROXY, forwarded)) == UNREADABLE
    assert client_address(request(PROXY, forwarded)) == UNREADABLE


def test_garbage_left_of_the_client_is_never_read(proxies):
    assert client_address(scope(PROXY, "garbage, 198.51.100.9")) == "198.51.100.9"


def test_non_latin1_header_bytes_do_not_raise(proxies):
    weird = {"type": "http", "client": [PROXY, 1], "headers": [(b"x-forwarded-for", b"\xff\xfe")]}
    assert client_address(weird) == UNREADABLE


def test_peer_that_is_not_an_address_is_its_own_key():
    assert client_address(scope("testclient")) == "testclient"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1.2.3.4", "1.2.3.4"), (" 1.2.3.4 ", "1.2.3.4"), ("[::1]", "::1"), ("[::1]:80", "::1")],
)
def test_parse_ip(text, parsed):
    assert str(parse_ip(text)) == parsed


def test_ipv6_clients_counted_by_their_64(proxies):
    assert client_key(scope("2001:db8:1:2::5")) == client_key(scope("2001:db8:1:2:ffff::9"))
    assert client_key(scope("2001:db8:1:2::5")) == "2001:db8:1:2::/64"
    assert client_key(scope("2001:db8:1:3::5")) != client_key(scope("2001:db8:1:2::5"))
    assert client_key(scope("203.0.113.7")) == "203.0.113.7"


# OpenConnections ----------------------------------------------------------------------------


def test_open_connections_cap_per_client():
    counts = OpenConnections("test")
    slots = [counts.acquire("a", 2), counts.acquire("a", 2)]
    assert counts.acquire("a", 2) is None
    assert counts.acquire("b", 2) is not None
    assert counts.count("a") == 2
    slots[0].release()
    assert counts.acquire("a", 2) is not None


def test_open_connections_release_once_and_back_to_zero():
    counts = OpenConnections("test")
    slot = counts.acquire("a", 5)
    slot.release()
    slot.release()
    assert counts.count("a") == 0
    assert counts.count() == 0


def test_open_connections_released_when_the_block_raises():
    counts = OpenConnections("test")
    with pytest.raises(RuntimeError), counts.acquire("a", 5):
        assert counts.count("a") == 1
        raise RuntimeError("handler failed")
    assert counts.count() == 0


def test_open_connections_zero_limit_means_no_cap_and_unknown_not_counted():
    counts = OpenConnections("test")
    assert all(counts.acquire("a", 0) for _ in range(1000))
    assert counts.acquire(None, 1) is not None
    assert counts.acquire(None, 1) is not None
    assert counts.count() == 1000


# ClientRates --------------------------------------------------------------------------------


class Clock:
    now = 50.0

    def __call__(self) -> float:
        return self.now


def test_client_rates_burst_then_wait_then_refill():
    clock = Clock()
    rates = ClientRates(lambda: (5.0, 20.0), clock=clock)
    assert [rates.wait("a") for _ in range(20)] == [0.0] * 20
    assert rates.wait("a") == pytest.approx(0.2)
    assert rates.wait("b") == 0.0  # another client has its own bucket
    clock.now += 0.25
    assert rates.wait("a") == 0.0
    assert rates.wait("a") > 0


def test_client_rates_zero_rate_and_unknown_client_unlimited():
    assert all(ClientRates(lambda: (0.0, 20.0)).wait("a") == 0 for _ in range(100))
    assert all(ClientRates(lambda: (5.0, 1.0)).wait(None) == 0 for _ in range(100))


def test_client_rates_forget_the_least_recent():
    rates = ClientRates(lambda: (1.0, 1.0), size=2, clock=Clock())
    rates.wait("a")
    rates.wait("b")
    rates.wait("c")  # "a" is forgotten: a fresh bucket
    assert rates.wait("a") == 0.0
    assert rates.wait("c") > 0


def test_client_rates_follow_a_settings_change():
    current = [(1.0, 1.0)]
    rates = ClientRates(lambda: current[0], clock=Clock())
    rates.wait("a")
    assert rates.wait("a") > 0
    current[0] = (1.0, 5.0)
    assert rates.wait("a") == 0.0


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.2, "1"), (1.01, "2"), (7, "7")])
def test_retry_after_whole_seconds_at_least_one(seconds, header):
    assert retry_after(seconds) == header
