"""The app under a real daphne or uvicorn (a subprocess), and clients that read raw bytes.

For the contract tests of serving/direct_write.py: what reaches the client
must be checked on the wire, byte for byte, against the servers themselves
rather than stand-ins that encode our own reading of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway key and certificate for 127.0.0.1 (openssl, from Debian)."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return key, cert


@contextlib.contextmanager
def running(kind: str, *, tls: bool = False, **env: str) -> Iterator[str]:
    """Serve advisor.asgi under `kind` ("daphne" or "uvicorn"); yield its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        scheme = "http"
        if kind == "daphne":
            if tls:
                key, cert = self_signed_certificate(Path(folder))
                endpoint = f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
                command = ["daphne", "-e", endpoint]
                scheme = "https"
            else:
                command = ["daphne", "-b", "127.0.0.1", "-p", str(port)]
        elif kind == "uvicorn":
            # The `websockets` implementation, without compression: the one
            # whose frames serving/direct_write.py can write itself.
            command = ["uvicorn", "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets"]
            command += ["--ws-per-message-deflate", "false", "--lifespan", "off"]
            command += ["--log-level", "warning"]
        else:
            raise ValueError(kind)
        environment = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "contract-tests-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_COOKIES": "0",
            "REDIS_URL": "",
            **env,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", *command, "advisor.asgi:application"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(process, port, log)
            yield f"{scheme}://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_port(process: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited: {log.read()[-2000:].decode(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/demo/stats/", verify=False, timeout=WAIT).json()


METRICS_TOKEN = "contract-tests-metrics"


def slow_closes(url: str) -> float:
    """Subscribers the server cut off as slow so far (a server run with METRICS_TOKEN)."""
    answer = httpx.get(
        f"{url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        verify=False,
        timeout=WAIT,
    )
    answer.raise_for_status()
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            closed = sample.name == "advisor_feed_subscribers_closed_total"
            if closed and sample.labels.get("reason") == "slow":
                return sample.value
    return 0.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("never came to pass")
        time.sleep(0.05)


def wait_for_stats(url: str, condition: Callable[[dict], bool], timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = stats(url)
        if condition(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"stats never matched: {body}")
        time.sleep(0.05)


class RawClient:
    """A socket to the server that reads exactly the bytes it sent, frame by frame."""

    def __init__(self, url: str, *, receive_buffer: int | None = None) -> None:
        address = httpx.URL(url)
        self.host = f"{address.host}:{address.port}"
        self.origin = f"{address.scheme}://{self.host}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # A client that will not read: small buffers fill sooner.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        sock.settimeout(WAIT)
        sock.connect((address.host, address.port))
        if address.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        self.sock = sock
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buffer += data
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def request(self, head: str) -> bytes:
        """Send a request head; return the response head (status line and headers)."""
        self.sock.sendall(head.replace("{host}", self.host).encode())
        lines = []
        while line := self._line():
            lines.append(line)
        return b"\r\n".join(lines)

    # WebSocket -----------------------------------------------------------------

    def websocket(self, path: str = "/ws/demo/") -> None:
        head = self.request(
            f"GET {path} HTTP/1.1\r\nHost: {{host}}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {self.origin}\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 101"), head

    def frame(self) -> bytes:
        """One whole server frame, header included, as it came."""
        header = self._exactly(2)
        size = header[1] & 0x7F
        extended = b""
        if size == 126:
            extended = self._exactly(2)
            size = int.from_bytes(extended, "big")
        elif size == 127:
            extended = self._exactly(8)
            size = int.from_bytes(extended, "big")
        return header + extended + self._exactly(size)

    def message(self) -> tuple[bytes, dict[str, Any]]:
        """The next text frame as it came, and its JSON."""
        while True:
            raw = self.frame()
            if raw[0] & 0x0F == 0x1:
                return raw, json.loads(raw[2 + _extended_length(raw) :])

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = b"\x01\x02\x03\x04"
        assert len(payload) <= 125
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask + masked)

    # Server-Sent Events ----------------------------------------------------------

    def event_stream(self, path: str = "/demo/events/", last_id: int | None = None) -> None:
        resume = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
        head = self.request(
            f"GET {path} HTTP/1.1\r\nHost: {{host}}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"transfer-encoding: chunked" in head.lower(), head

    def chunk(self) -> bytes:
        """One whole HTTP/1.1 chunk, size line and CRLFs included, as it came."""
        size_line = self._line()
        data = self._exactly(int(size_line, 16))
        assert self._exactly(2) == b"\r\n"
        return size_line + b"\r\n" + data + b"\r\n"


def _extended_length(frame: bytes) -> int:
    size = frame[1] & 0x7F
    return 2 if size == 126 else 8 if size == 127 else 0


def chunk_data(chunk: bytes) -> bytes:
    return chunk.split(b"\r\n", 1)[1][:-2]


def sse_events(data: bytes) -> dict[int, bytes]:
    """The events with an id in a stream's bytes, by id, each as sent (blank line included)."""
    events = {}
    for block in data.split(b"\n\n"):
        if block.startswith(b"id: "):
            events[int(block.split(b"\n", 1)[0][4:])] = block + b"\n\n"
    return events
