"""The topology of `make serve`, started once for these tests on services of its own.

PostgreSQL and Redis are private to the run (a cluster made by initdb in a
temporary directory, a redis-server), on free ports: the tests stop and
restart them, which the machine's shared servers must never see. nginx and
the app processes come from serving/topology.py, as `make serve` starts them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest

from serving.topology import Options, Topology, wait_until_up

# Every load client comes from 127.0.0.1: the per-client caps would refuse
# all but the first few (bench/servers.py raises them the same way).
CLIENT_LIMITS = {
    "DEMO_MAX_CONNECTIONS_PER_CLIENT": "100000",
    "NETWORK_CHECK_MAX_STREAMS_PER_CLIENT": "100000",
    "ADVISOR_WRITES_PER_SECOND": "100000",
    "ADVISOR_WRITE_BURST": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(100):
        base = free_port()
        if base + count > 65535:
            continue
        taken = False
        for port in range(base, base + count):
            with socket.socket() as sock:
                taken = taken or sock.connect_ex(("127.0.0.1", port)) == 0
        if not taken:
            return base
    raise RuntimeError("no consecutive free ports")


def _postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))), "")
    if not found:
        pytest.fail(f"{name} is missing (Debian's postgresql package has it)")
    return found


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, stopped and started by the tests."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = free_port()
        # initdb refuses to run as root: the cluster belongs to postgres then.
        self.as_user: list[str] = []
        folder.mkdir()
        if os.geteuid() == 0:
            folder.parent.chmod(0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            folder.chmod(0o755)
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        self._run(
            _postgres_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/advisor_topology"

    def _run(self, *command: str) -> None:
        # No pipes: the server pg_ctl starts would inherit them, and holding
        # them open would keep this call waiting for ever.
        subprocess.run([*self.as_user, *command], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run(
            _postgres_binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(_postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class PrivateRedis:
    """A redis-server without persistence: a restart loses the feed, as the tests want."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    with tempfile.TemporaryDirectory(prefix="advisor-topology-") as folder:
        postgres, redis = PrivatePostgres(Path(folder) / "pg"), PrivateRedis()
        postgres.start()
        redis.start()
        try:
            yield postgres, redis
        finally:
            redis.stop()
            postgres.stop()


@pytest.fixture(scope="session")
def topology(services) -> Iterator[Topology]:
    from serving.topology import ensure_database

    postgres, redis = services
    ensure_database(postgres.url)
    # ADVISOR_TOPOLOGY_STATE=<dir> keeps the state (nginx's and the app
    # processes' logs) there after the run, to read after a failure.
    kept = os.environ.get("ADVISOR_TOPOLOGY_STATE")
    with (
        contextlib.nullcontext(kept)
        if kept
        else tempfile.TemporaryDirectory(prefix="advisor-serve-")
    ) as state:
        options = Options(
            state_dir=Path(state),
            https_port=free_port(),
            app_processes=2,
            app_port_base=free_ports(2),
            buffering_port=free_port(),
            database_url=postgres.url,
            redis_url=redis.url,
            app_env={
                **CLIENT_LIMITS,
                # The API without accounts, for the client that posts assessments.
                "ADVISOR_ANONYMOUS": "1",
                # No PDF is downloaded here: no render workers in every server.
                "ADVISOR_REPORT_WORKERS_EARLY": "0",
            },
        )
        with Topology(options) as running:
            yield running


@pytest.fixture
def ready(topology) -> Topology:
    """The topology with both app processes up, whatever the test before did to them."""
    for index in topology.app_indexes:
        wait_until_up(topology.app_port(index), timeout=30)
    return topology
