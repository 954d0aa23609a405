"""`make serve`'s settings and the configurations it renders (no process started here;
tests/topology runs the real thing)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from serving.topology import Options, Topology, render


def test_options_defaults_and_environment() -> None:
    assert Options.from_environment({}).https_port == 8443
    assert Options.from_environment({}).app_processes == 2
    options = Options.from_environment(
        {"HTTPS_PORT": "9443", "APP_PROCESSES": "3", "TLS_CERT": "c.pem", "TLS_KEY": "k.pem"}
    )
    assert (options.https_port, options.app_processes) == (9443, 3)
    assert options.tls_cert.name == "c.pem" and options.tls_key.name == "k.pem"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HTTPS_PORT": "http"}, "HTTPS_PORT must be a TCP port"),
        ({"HTTPS_PORT": "70000"}, "HTTPS_PORT must be a TCP port"),
        ({"APP_PROCESSES": "0"}, "APP_PROCESSES must be a number of processes"),
        ({"APP_PORT_BASE": "-1"}, "APP_PORT_BASE must be a TCP port"),
        ({"TLS_CERT": "c.pem"}, "TLS_CERT and TLS_KEY go together"),
    ],
)
def test_options_bad_values_refused_with_the_variable_named(env, message) -> None:
    with pytest.raises(SystemExit, match=message):
        Options.from_environment(env)


def test_render_refuses_a_placeholder_left_unreplaced(tmp_path: Path) -> None:
    template = tmp_path / "t.conf"
    template.write_text("# @NAME@ in a comment stays\nlisten @PORT@;\nroot @ROOT@;\n")
    assert render(template, {"PORT": "1", "ROOT": "/x"}).splitlines() == [
        "# @NAME@ in a comment stays",
        "listen 1;",
        "root /x;",
    ]
    with pytest.raises(ValueError, match="@ROOT@"):
        render(template, {"PORT": "1"})


def test_rendered_nginx_config_drains_and_clears_the_buffering_header(tmp_path: Path) -> None:
    topology = Topology(
        Options(
            state_dir=tmp_path,
            app_port_base=9101,
            tls_cert=tmp_path / "c.pem",
            tls_key=tmp_path / "k.pem",
        )
    )
    topology.drained.add(1)
    text = topology.render_nginx().read_text()
    assert "server 127.0.0.1:9101 max_fails=3 fail_timeout=5s;" in text
    assert "server 127.0.0.1:9102 max_fails=3 fail_timeout=5s down;" in text
    assert "listen 127.0.0.1:8443 ssl http2;" in text
    # Only the demonstration location says it buffers; every other one clears
    # what a client sent (the server-level header, inherited).
    assert text.count("proxy_set_header X-Advisor-Via buffering-proxy;") == 1
    assert 'proxy_set_header X-Advisor-Via "";' in text
    rendered = topology.render_supervisord()
    supervisord = rendered.read_text()
    # The control socket's password is in it: its owner's only.
    assert rendered.stat().st_mode & 0o777 == 0o600
    password = (tmp_path / "supervisor_password").read_text()
    assert supervisord.count(f"password={password}") == 2
    assert "numprocs=2" in supervisord and "$((9101 + %(process_num)d))" in supervisord


def test_rendered_nginx_config_buffers_on_a_second_hop_of_its_own(tmp_path: Path) -> None:
    options = Options(state_dir=tmp_path, tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")
    text = Topology(options).render_nginx().read_text()
    # By default the hop listens just below app_0's port, on loopback only.
    assert "listen 127.0.0.1:8100 ssl;" in text
    assert "proxy_pass https://127.0.0.1:8100;" in text
    # Only the probe's paths are served under the prefix.
    assert "location ^~ /via-buffering-proxy/network-check/ {" in text
    other = text.index("location ^~ /via-buffering-proxy/ {")
    assert text[other:].split("}")[0].split("{")[1].split() == ["return", "404;"]
    options.buffering_port = 9100
    assert "listen 127.0.0.1:9100 ssl;" in Topology(options).render_nginx().read_text()


def test_launcher_stops_on_sigint_even_when_started_with_it_ignored() -> None:
    # A script that starts `make serve` in the background hands it SIGINT
    # ignored; Ctrl-C and `kill -INT` must stop it all the same.
    code = (
        "import time\n"
        "from serving.topology import stop_on_signals\n"
        "stop_on_signals()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    print('stopped', flush=True)\n"
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
        assert (out, process.returncode) == ("stopped\n", 0), (signum, err)


def test_app_environment_links_emails_to_the_proxy_unless_told(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ADVISOR_BASE_URL", raising=False)
    topology = Topology(Options(state_dir=tmp_path, https_port=9443))
    env = topology.app_environment()
    assert env["ADVISOR_BASE_URL"] == "https://127.0.0.1:9443"
    assert env["DJANGO_DEBUG"] == "0"
    monkeypatch.setenv("ADVISOR_BASE_URL", "https://advisor.example.com")
    assert topology.app_environment()["ADVISOR_BASE_URL"] == "https://advisor.example.com"


def test_serve_user_account_is_made_with_the_served_settings(tmp_path, monkeypatch, capfd) -> None:
    # `make serve-user` runs `python -m serving.topology manage workspace ...`:
    # the account must land where the served processes look, with their
    # production settings, so that it can sign in on `make serve`.
    monkeypatch.setenv("ADVISOR_NEW_USER_PASSWORD", "correct horse battery")
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    topology = Topology(
        Options(state_dir=tmp_path / "state", database_url=f"sqlite:///{tmp_path / 'db'}")
    )
    assert topology.manage("workspace", "create", "demo", "--name", "Demo") == 0
    add = ("workspace", "add-member", "demo", "alice", "--role", "owner", "--create-user")
    assert topology.manage(*add) == 0
    check = (
        "from django.conf import settings; from django.contrib.auth import authenticate; "
        "print(settings.DEBUG, settings.ADVISOR_BASE_URL, "
        "authenticate(username='alice', password='correct horse battery') is not None)"
    )
    capfd.readouterr()
    assert topology.manage("shell", "-c", check) == 0
    assert capfd.readouterr().out.splitlines()[-1] == "False https://127.0.0.1:8443 True"
