"""advisor/consumers.py: the error frame consumers send."""

from __future__ import annotations

from advisor.consumers import MessageError


def test_message_error_as_dict():
    error = MessageError("invalid_json", "That message is not JSON.").as_dict()
    assert error["type"] == "error"
    assert (error["code"], error["message"]) == ("invalid_json", "That message is not JSON.")
    assert isinstance(error["ts"], float)
