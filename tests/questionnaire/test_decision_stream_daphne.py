"""The decision stream under daphne: a client's disconnect ends it (questionnaire/live.py)."""

from __future__ import annotations

import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_frees_its_place_under_daphne(settings, daphne_servers, chat_answers):
    """Under daphne, the stream ends when its client goes (its disconnect watcher):
    with one stream allowed per person, a second can open once the first is closed."""
    settings.DECISION_STREAM = {**settings.DECISION_STREAM, "MAX_PER_USER": 1}
    user = get_user_model().objects.create_user("ann")
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    host, port = daphne_servers().removeprefix("http://").split(":")

    def get() -> tuple[socket.socket, bytes]:
        connection = socket.create_connection((host, int(port)), timeout=5)
        connection.sendall(
            f"GET /decisions/stream/ HTTP/1.1\r\nHost: {host}\r\nCookie: sessionid={cookie}"
            "\r\n\r\n".encode()
        )
        return connection, connection.recv(4096)

    first, answer = get()
    assert answer.startswith(b"HTTP/1.1 200")
    second, answer = get()
    assert answer.startswith(b"HTTP/1.1 429")
    second.close()
    first.close()
    deadline = time.monotonic() + 5
    while True:
        third, answer = get()
        third.close()
        if answer.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer.startswith(b"HTTP/1.1 200")
