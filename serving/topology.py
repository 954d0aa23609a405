"""The production topology on one machine: nginx (TLS, HTTP/2) in front of
several daphne processes kept running by supervisor, on PostgreSQL and Redis.

`make serve` runs ``python -m serving.topology``; the fault tests
(tests/topology/) and the proxy benchmark (bench/bench_topology.py) start the
same thing through `Topology`. The configurations are the ones we recommend
(deploy/nginx.conf, deploy/supervisord.conf), rendered with this machine's
ports and paths into a state directory (`.serve/` by default, git-ignored):
the self-signed certificate, the generated secret key, pid files, temporary
files and logs. Nothing runs as another user or writes outside it, except
collectstatic (into STATIC_ROOT) and the migrations.

This module starts nothing at import and imports no Django: the launcher runs
`manage.py` as subprocesses with the processes' own environment.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"
MIME_TYPES = Path("/etc/nginx/mime.types")
# Under the proxy, the network check's "through a buffering proxy" probes go
# to this prefix (the location with buffering on in deploy/nginx.conf).
BUFFERING_PROBE_PREFIX = "/via-buffering-proxy"


@dataclass
class Options:
    """What varies between `make serve`, the fault tests and the benchmark."""

    state_dir: Path = PROJECT / ".serve"
    https_port: int = 8443
    app_processes: int = 2
    # app_0 listens on this port, app_1 on the next, ...
    app_port_base: int = 8101
    # The loopback port of the buffering proxy's second hop (deploy/nginx.conf);
    # None: the port just below app_0's.
    buffering_port: int | None = None
    database_url: str = "postgres://postgres@127.0.0.1:5432/advisor_serve"
    redis_url: str = "redis://127.0.0.1:6379/0"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Settings for the app processes on top of the production ones below.
    app_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, env: os._Environ | dict[str, str] = os.environ) -> Options:
        options = cls()
        options.https_port = _port(env, "HTTPS_PORT", options.https_port)
        options.app_processes = _count(env, "APP_PROCESSES", options.app_processes)
        options.app_port_base = _port(env, "APP_PORT_BASE", options.app_port_base)
        options.database_url = env.get("DATABASE_URL") or options.database_url
        options.redis_url = env.get("REDIS_URL") or options.redis_url
        cert, key = env.get("TLS_CERT", ""), env.get("TLS_KEY", "")
        if bool(cert) != bool(key):
            raise SystemExit("TLS_CERT and TLS_KEY go together: set both, or neither")
        if cert:
            options.tls_cert, options.tls_key = Path(cert).resolve(), Path(key).resolve()
        return options


def _port(env, name: str, default: int) -> int:
    value = env.get(name, "")
    if not value:
        return default
    if not (value.isdigit() and 1 <= int(value) <= 65535):
        raise SystemExit(f"{name} must be a TCP port (1-65535), not {value!r}")
    return int(value)


def _count(env, name: str, default: int) -> int:
    value = env.get(name, "")
    if not value:
        return default
    if not (value.isdigit() and 1 <= int(value) <= 64):
        raise SystemExit(f"{name} must be a number of processes (1-64), not {value!r}")
    return int(value)


def render(template: Path, values: dict[str, str]) -> str:
    """The template with each @NAME@ replaced; an unknown placeholder is an error."""
    lines = []
    for line in template.read_text().splitlines():
        # Comments name the placeholders: they stay as written.
        if not line.lstrip().startswith(("#", ";")):
            for name, value in values.items():
                line = line.replace(f"@{name}@", value)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    code = [line for line in lines if not line.lstrip().startswith(("#", ";"))]
    leftover = sorted(set(re.findall(r"@[A-Z_]+@", "\n".join(code))))
    if leftover:
        raise ValueError(f"{template.name}: placeholders left unreplaced: {leftover}")
    return text


def wait_until_up(port: int, path: str = "/healthz", timeout: float = 60) -> None:
    """Wait until the app on `port` answers `path` (a 404 counts: the process is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path, headers={"Host": "127.0.0.1"})
            status = connection.getresponse().status
            connection.close()
            if status in (200, 404):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app on port {port} did not answer {path} in {timeout} s")
        time.sleep(0.1)


class Topology:
    """nginx and supervisor (with its app processes), started and stopped together."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.state = options.state_dir.resolve()
        self.run_dir = self.state / "run"
        self.log_dir = self.state / "logs"
        self.supervisord: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.drained: set[int] = set()

    # Addresses --------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.options.https_port}"

    @property
    def buffering_port(self) -> int:
        return self.options.buffering_port or self.options.app_port_base - 1

    def app_port(self, index: int) -> int:
        return self.options.app_port_base + index

    @property
    def app_indexes(self) -> range:
        return range(self.options.app_processes)

    # The environment ----------------------------------------------------------

    def app_environment(self) -> dict[str, str]:
        """The production settings every app process runs with."""
        options = self.options
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or self._secret_key(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # nginx forwards the scheme and the client's address; the app
            # believes them from nginx (loopback) only.
            "DJANGO_SECURE_PROXY_SSL_HEADER": "1",
            "DJANGO_TRUSTED_PROXIES": "127.0.0.1",
            # nginx serves STATIC_ROOT (and the hashed names need the manifest).
            "DJANGO_SERVE_STATIC": "0",
            "DATABASE_URL": options.database_url,
            "REDIS_URL": options.redis_url,
            "ADVISOR_BUFFERING_PROBE_PREFIX": BUFFERING_PROBE_PREFIX,
            # The links in the decision emails: this proxy's address unless
            # the caller names another (a host name, a real certificate's).
            "ADVISOR_BASE_URL": os.environ.get("ADVISOR_BASE_URL") or self.url,
            "PYTHONUNBUFFERED": "1",
            **options.app_env,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    def _secret_key(self) -> str:
        # Kept across runs, so sessions survive a restart of `make serve`.
        return self._kept_secret("secret_key")

    def _kept_secret(self, name: str) -> str:
        """A random secret in the state directory, made once, readable by its owner only."""
        path = self.state / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(50))
        return path.read_text().strip()

    def _certificate(self) -> tuple[Path, Path]:
        if self.options.tls_cert and self.options.tls_key:
            return self.options.tls_cert, self.options.tls_key
        cert, key = self.state / "tls" / "cert.pem", self.state / "tls" / "key.pem"
        if not (cert.exists() and key.exists()):
            cert.parent.mkdir(exist_ok=True)
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "825", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert),
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
            key.chmod(0o600)
        return cert, key

    # Rendering ---------------------------------------------------------------

    def render_nginx(self) -> Path:
        cert, key = self._certificate()
        servers = []
        for index in self.app_indexes:
            down = " down" if index in self.drained else ""
            servers.append(
                f"        server 127.0.0.1:{self.app_port(index)}"
                f" max_fails=3 fail_timeout=5s{down};"
            )
        text = render(
            DEPLOY / "nginx.conf",
            {
                "APP_SERVERS": "\n".join(servers),
                "HTTPS_PORT": str(self.options.https_port),
                "BUFFERING_PORT": str(self.buffering_port),
                "TLS_CERT": str(cert),
                "TLS_KEY": str(key),
                "STATIC_ROOT": str(PROJECT / "staticfiles"),
                "RUN_DIR": str(self.run_dir),
                "LOG_DIR": str(self.log_dir),
                "MIME_TYPES": str(MIME_TYPES),
            },
        )
        path = self.state / "nginx.conf"
        path.write_text(text)
        return path

    def render_supervisord(self) -> Path:
        text = render(
            DEPLOY / "supervisord.conf",
            {
                "APP_PROCESSES": str(self.options.app_processes),
                "APP_PORT_BASE": str(self.options.app_port_base),
                "PYTHON": sys.executable,
                "PROJECT_DIR": str(PROJECT),
                "RUN_DIR": str(self.run_dir),
                "LOG_DIR": str(self.log_dir),
                "RUN_AS_UID": str(os.geteuid()),
                "SUPERVISOR_PASSWORD": self._kept_secret("supervisor_password"),
            },
        )
        path = self.state / "supervisord.conf"
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)
        return path

    def manage_command(self, *args: str) -> list[str]:
        """`manage.py args` as the app processes would run it (run with `app_environment()`)."""
        return [sys.executable, str(PROJECT / "manage.py"), *args]

    def manage(self, *args: str) -> int:
        """Run `manage.py args` on the served database and settings, migrated first.

        What `make serve-user` uses: an account made with `make user` lives
        in development's SQLite database, and cannot sign in on `make serve`.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        env = self.app_environment()
        subprocess.run(self.manage_command("migrate", "--noinput", "-v0"), env=env, check=True)
        return subprocess.run(self.manage_command(*args), env=env, cwd=PROJECT).returncode

    # Starting and stopping ----------------------------------------------------

    def prepare(self) -> None:
        """Directories, static files and migrations: what must be there before the processes."""
        for directory in (self.state, self.run_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        env = self.app_environment()
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "collectstatic", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True
        )
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True)

    def start(self) -> None:
        ports = [self.options.https_port, self.buffering_port]
        for port in [*ports, *map(self.app_port, self.app_indexes)]:
            if _listening(port):
                raise SystemExit(f"port {port} is taken: is `make serve` already running?")
        self.prepare()
        # Own sessions: Ctrl-C reaches the launcher alone, which stops them in order.
        self.supervisord = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supervisor.supervisord",
                "-n",
                "-c",
                str(self.render_supervisord()),
            ],
            cwd=PROJECT,
            env=self.app_environment(),
            start_new_session=True,
        )
        for index in self.app_indexes:
            wait_until_up(self.app_port(index))
        self.nginx = subprocess.Popen(
            [self.nginx_binary(), "-p", str(self.state),
             "-e", str(self.log_dir / "nginx-error.log"),
             "-c", str(self.render_nginx()), "-g", "daemon off;"],
            start_new_session=True,
        )  # fmt: skip
        self.wait_for_proxy()

    @staticmethod
    def nginx_binary() -> str:
        found = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(found).exists():
            raise SystemExit(
                "nginx is missing: `make serve` installs it (scripts/ensure-serve-deps)"
            )
        return found

    def wait_for_proxy(self, timeout: float = 30) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while True:
            if self.nginx is not None and self.nginx.poll() is not None:
                log = (self.log_dir / "nginx-error.log").read_text()[-2000:]
                raise RuntimeError(f"nginx exited with status {self.nginx.returncode}:\n{log}")
            try:
                connection = http.client.HTTPSConnection(
                    "127.0.0.1", self.options.https_port, timeout=2, context=context
                )
                connection.request("GET", "/healthz")
                if connection.getresponse().status in (200, 404):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not answer on {self.url} in {timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """nginx first (no new requests), then supervisor, which stops the app processes."""
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful
            _wait_or_kill(self.nginx, 10)
        if self.supervisord is not None and self.supervisord.poll() is None:
            self.supervisord.send_signal(signal.SIGTERM)
            _wait_or_kill(self.supervisord, 30)

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Operating it ----------------------------------------------------------------

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl",
             "-c", str(self.state / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
        )  # fmt: skip
        return result.stdout

    def app_pid(self, index: int) -> int:
        return int(self.supervisorctl("pid", f"app:app_{index}").strip() or 0)

    def reload_nginx(self) -> None:
        """Apply a new configuration: new workers, the old ones finish their requests."""
        self.render_nginx()
        assert self.nginx is not None
        self.nginx.send_signal(signal.SIGHUP)
        # Wait for new workers: until then requests still go the old way.
        time.sleep(1)

    def restart_app(self, index: int, *, drain_seconds: float = 1.0) -> None:
        """Restart one app process without cutting a request: drain, stop, start, rejoin.

        nginx stops sending it new requests first (the server marked down,
        a graceful reload); after `drain_seconds` its requests have finished,
        and SIGTERM only closes streams, whose clients reconnect through
        nginx to the other processes and resume.
        """
        self.drained.add(index)
        self.reload_nginx()
        time.sleep(drain_seconds)
        self.supervisorctl("stop", f"app:app_{index}")
        self.supervisorctl("start", f"app:app_{index}")
        wait_until_up(self.app_port(index))
        self.drained.discard(index)
        self.reload_nginx()

    def rolling_restart(self) -> None:
        for index in self.app_indexes:
            self.restart_app(index)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_or_kill(process: subprocess.Popen, timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if not url.startswith(("postgres://", "postgresql://")):
        return
    name = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and `kill` (SIGTERM) both stop everything `make serve` started.

    Installed explicitly, SIGINT too: a launcher started in the background
    by a shell script inherits SIGINT ignored, and Python keeps it ignored,
    so Ctrl-C or `kill -INT` would otherwise do nothing.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m serving.topology",
        description="nginx (TLS, HTTP/2) in front of APP_PROCESSES daphne processes "
        "under supervisor, until Ctrl-C. Settings from the environment "
        "(HTTPS_PORT, APP_PROCESSES, TLS_CERT, TLS_KEY, DATABASE_URL, REDIS_URL): docs/deploy.md.",
    )
    commands = parser.add_subparsers(dest="command")
    manage = commands.add_parser(
        "manage",
        help="run a manage.py command on the served database, with the served settings "
        "(`make serve-user` makes an account this way)",
    )
    manage.add_argument("args", nargs=argparse.REMAINDER, help="manage.py's arguments")
    arguments = parser.parse_args(argv)
    options = Options.from_environment()
    ensure_database(options.database_url)
    topology = Topology(options)
    if arguments.command == "manage":
        raise SystemExit(topology.manage(*arguments.args))
    stop_on_signals()
    with topology:
        print(
            f"Serving {topology.url}/ through nginx (HTTP/2) to {options.app_processes} "
            f"daphne processes on ports {options.app_port_base}-"
            f"{topology.app_port(options.app_processes - 1)}. Logs in {topology.log_dir}. "
            "Ctrl-C stops it.\nSign-in is required here (no anonymous mode): make an account "
            "with `make serve-user USERNAME=alice` (`make user` accounts are development's, "
            "not these).",
            flush=True,
        )
        try:
            while topology.nginx.poll() is None and topology.supervisord.poll() is None:
                time.sleep(0.5)
            print("nginx or supervisord exited; stopping the rest.", file=sys.stderr)
        except KeyboardInterrupt:
            print("\nStopping nginx and the app processes...", flush=True)


if __name__ == "__main__":
    main()
