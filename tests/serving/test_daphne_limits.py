"""serving/daphne_limits.py: daphne closes over-long text messages with 1009."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketProtocol

from serving.daphne_limits import limit_daphne_text_messages, send_close_frame
from serving.direct_write import TESTED

PATCHED = (
    "onMessageFrameBegin",
    "_max_message_size_exceeded",
    "_advisor_original_frame_begin",
    "_advisor_limits",
)
ABSENT = object()


def patched_attributes() -> dict[str, Any]:
    return {name: vars(WebSocketProtocol).get(name, ABSENT) for name in PATCHED}


@pytest.fixture
def frame_begins() -> Iterator[list[int]]:
    """daphne's WebSocketProtocol as before the patch, with a stand-in for autobahn's
    onMessageFrameBegin that counts the message's bytes but checks no limit, so that
    only the patch can refuse a message. The class is put back exactly as it was.
    """
    saved = patched_attributes()
    calls: list[int] = []

    def original_frame_begin(self, length: int) -> None:
        calls.append(length)
        self.message_data_total_length += length

    try:
        for name in PATCHED:
            if name in vars(WebSocketProtocol):
                delattr(WebSocketProtocol, name)
        WebSocketProtocol.onMessageFrameBegin = original_frame_begin
        yield calls
    finally:
        for name, value in saved.items():
            if value is ABSENT:
                if name in vars(WebSocketProtocol):
                    delattr(WebSocketProtocol, name)
            else:
                setattr(WebSocketProtocol, name, value)
    assert patched_attributes() == saved


class Message:
    """A WebSocketProtocol in the middle of receiving one message, recording its failures."""

    def __init__(self, *, binary: bool, max_payload: int = 2000) -> None:
        self.protocol = protocol = object.__new__(WebSocketProtocol)
        protocol.message_is_binary = binary
        protocol.message_data_total_length = 0
        protocol.failedByMe = False
        protocol.wasMaxMessagePayloadSizeExceeded = False
        protocol.maxMessagePayloadSize = max_payload
        protocol.failByDrop = True  # autobahn's default, and daphne's
        self.exceeded: list[tuple[int, int]] = []
        self.failures: list[int] = []

        def exceeded(size: int, limit: int, reason: str) -> None:
            self.exceeded.append((size, limit))
            WebSocketProtocol._max_message_size_exceeded(protocol, size, limit, reason)

        def fail(code: int, reason: str) -> None:
            self.failures.append(code)
            protocol.failedByMe = True

        protocol._max_message_size_exceeded = exceeded
        protocol._fail_connection = fail

    def frames(self, *lengths: int) -> Message:
        for length in lengths:
            self.protocol.onMessageFrameBegin(length)
        return self


def test_limit_daphne_installed_at_startup(settings):
    options = settings.LIVE_DEMO
    assert WebSocketProtocol._advisor_limits == (
        options["MAX_TEXT_BYTES"],
        options["MAX_BINARY_BYTES"],
    )
    assert WebSocketProtocol._advisor_original_frame_begin is AutobahnProtocol.onMessageFrameBegin


def test_limit_daphne_installed_wraps_frame_begin():
    assert WebSocketProtocol.onMessageFrameBegin is not AutobahnProtocol.onMessageFrameBegin
    assert "onMessageFrameBegin" in vars(WebSocketProtocol)


def test_limit_daphne_installed_closes_rather_than_drops():
    assert "_max_message_size_exceeded" in vars(WebSocketProtocol)


def test_limit_daphne_text_over_limit_fails_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(101)
    assert message.exceeded == [(101, 100)]
    assert message.failures == [AutobahnProtocol.CLOSE_STATUS_CODE_MESSAGE_TOO_BIG] == [1009]
    assert message.protocol.wasMaxMessagePayloadSizeExceeded is True


def test_limit_daphne_over_limit_close_frame_not_dropped(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False)
    assert message.protocol.failByDrop is True
    message.frames(101)
    # A close frame (1009), not a dropped TCP connection (1006 for the client).
    assert message.protocol.failByDrop is False


def test_limit_daphne_under_limit_fail_by_drop_kept(frame_begins):
    limit_daphne_text_messages(100, 2000)
    assert Message(binary=False).frames(100).protocol.failByDrop is True


def test_limit_daphne_autobahn_size_check_closes_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True)
    # What autobahn's own check (maxMessagePayloadSize, maxFramePayloadSize) calls.
    message.protocol._max_message_size_exceeded(3000, 2000, "too big")
    assert message.failures == [1009]
    assert message.protocol.failByDrop is False


def test_limit_daphne_text_at_limit_passes(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(100)
    assert (message.exceeded, message.failures) == ([], [])
    assert message.protocol.wasMaxMessagePayloadSizeExceeded is False


def test_limit_daphne_binary_of_same_size_passes(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True).frames(101)
    assert (message.exceeded, message.failures) == ([], [])


def test_limit_daphne_binary_over_its_limit_fails_1009(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=True, max_payload=0).frames(2001)
    assert message.exceeded == [(2001, 2000)]
    assert message.failures == [1009]


def test_limit_daphne_text_frames_add_up(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(60, 40)
    assert message.failures == []
    message.frames(1)
    assert message.exceeded == [(101, 100)]
    assert message.failures == [1009]


def test_limit_daphne_calls_original_first(frame_begins):
    limit_daphne_text_messages(100, 2000)
    Message(binary=False).frames(30, 101)
    assert frame_begins == [30, 101]


def test_limit_daphne_failed_connection_not_failed_again(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False).frames(101, 50)
    assert message.failures == [1009]


def test_limit_daphne_max_message_payload_size_unchanged(frame_begins):
    limit_daphne_text_messages(100, 2000)
    message = Message(binary=False, max_payload=2000).frames(50)
    assert message.protocol.maxMessagePayloadSize == 2000
    message.frames(60)
    assert message.failures == [1009]
    assert message.protocol.maxMessagePayloadSize == 2000
    assert Message(binary=True).frames(10).protocol.maxMessagePayloadSize == 2000


def test_limit_daphne_class_payload_size_untouched(frame_begins):
    before = vars(WebSocketProtocol).get("maxMessagePayloadSize", ABSENT)
    limit_daphne_text_messages(100, 2000)
    Message(binary=False).frames(101)
    assert vars(WebSocketProtocol).get("maxMessagePayloadSize", ABSENT) is before


def test_limit_daphne_stores_original(frame_begins):
    original = WebSocketProtocol.onMessageFrameBegin
    limit_daphne_text_messages(100, 2000)
    assert WebSocketProtocol._advisor_original_frame_begin is original
    assert WebSocketProtocol.onMessageFrameBegin is not original
    assert WebSocketProtocol._advisor_limits == (100, 2000)


def test_limit_daphne_new_limits_wrap_original_once(frame_begins):
    original = WebSocketProtocol.onMessageFrameBegin
    limit_daphne_text_messages(100, 2000)
    limit_daphne_text_messages(300, 4000)
    assert WebSocketProtocol._advisor_original_frame_begin is original
    message = Message(binary=False).frames(200)
    assert message.failures == []
    assert frame_begins == [200]
    assert Message(binary=False).frames(301).failures == [1009]


# The message rate: frames over it dropped before daphne, a flood closed ------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rate_guard() -> Iterator[tuple[FakeClock, type]]:
    """daphne's onMessage recording what reaches the application, then the guard on top;
    the class is put back exactly as it was."""
    from advisor.limits import RateLimiter
    from serving.daphne_limits import limit_daphne_message_rate

    names = ("onMessage", "_advisor_original_on_message")
    saved = {name: vars(WebSocketProtocol).get(name, ABSENT) for name in names}
    clock = FakeClock()

    def original_on_message(self, payload: bytes, is_binary: bool) -> None:
        self.passed.append(payload)

    try:
        if "_advisor_original_on_message" in vars(WebSocketProtocol):
            delattr(WebSocketProtocol, "_advisor_original_on_message")
        WebSocketProtocol.onMessage = original_on_message
        limit_daphne_message_rate(
            lambda: RateLimiter(40, clock=clock, flood_factor=1, flood_seconds=2),
            4008,
            "too many messages",
        )
        yield clock, WebSocketProtocol
    finally:
        for name, value in saved.items():
            if value is ABSENT:
                if name in vars(WebSocketProtocol):
                    delattr(WebSocketProtocol, name)
            else:
                setattr(WebSocketProtocol, name, value)


def guarded_protocol(cls: type) -> Any:
    protocol = object.__new__(cls)
    protocol.passed = []
    protocol.closes = []
    protocol.sendClose = lambda code=None, reason=None: protocol.closes.append((code, reason))
    return protocol


def test_rate_guard_passes_up_to_the_rate_drops_the_rest(rate_guard):
    clock, cls = rate_guard
    protocol = guarded_protocol(cls)
    for number in range(100):
        protocol.onMessage(b"%d" % number, False)
    assert protocol.passed == [b"%d" % number for number in range(40)]
    assert protocol.closes == []


def test_rate_guard_closes_a_flood_after_2_s_then_passes_nothing(rate_guard):
    clock, cls = rate_guard
    protocol = guarded_protocol(cls)
    for _ in range(300):  # 100 a second for 3 s
        protocol.onMessage(b"ping", False)
        clock.now += 0.01
    assert protocol.closes == [(4008, "too many messages")]
    assert 40 <= len(protocol.passed) <= 40 + 2 * 40 + 2


def test_rate_guard_at_the_rate_never_closes(rate_guard):
    clock, cls = rate_guard
    protocol = guarded_protocol(cls)
    for _ in range(39 * 5):  # just under 40 a second for 5 s
        protocol.onMessage(b"ping", False)
        clock.now += 1 / 39
    assert protocol.closes == []
    assert len(protocol.passed) == 39 * 5


# Untested versions: the public path -------------------------------------------------------


def test_untested_daphne_version_text_limit_not_patched(frame_begins, monkeypatch):
    monkeypatch.setitem(TESTED, "autobahn", "0.0.1")
    before = patched_attributes()
    limit_daphne_text_messages(100, 2000)
    assert patched_attributes() == before


def test_untested_daphne_version_close_frame_left_to_asgi(monkeypatch):
    sent = []

    class Protocol:
        def sendCloseFrame(self, code: int, reasonUtf8: bytes) -> None:
            sent.append(code)

    async def daphne_send(protocol, message):
        pass

    send = functools.partial(daphne_send, Protocol())
    monkeypatch.setitem(TESTED, "daphne", "0.0.1")
    assert send_close_frame(send, 1009, "too big") is False
    monkeypatch.undo()
    assert send_close_frame(send, 1009, "too big") is True
    assert sent == [1009]
