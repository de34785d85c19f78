"""Signals a real daemon may be sent: none kills it leaving its socket or ``.listen`` file behind.

Some are ignored (the daemon keeps serving, on the socket and on TCP), the others stop it
gracefully, removing both files."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from instance_rpc import SyncPluginClient
from instance_rpc.cli._signals import IGNORED_SIGNALS, STOPPING_SIGNALS
from instance_rpc.listen_files import read_listen_file
from tests.daemon import Daemon, running_daemon

SERVE_TCP = ("--plugin", "memory", "--listen", "tcp://127.0.0.1:0")


def _serving(socket_path: Path, listen_file: Path) -> bool:
    """True when the daemon answers a handshake on its socket and accepts on its TCP port."""
    with SyncPluginClient(socket_path) as plugin:
        plugin.handshake()
    host, _, port = read_listen_file(listen_file).removeprefix("tcp://").rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5):
        return True


def _wait_for_line(daemon: Daemon, line: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in daemon.log():
        assert time.monotonic() < deadline, f"no {line!r} in {daemon.log()}"
        time.sleep(0.02)


def test_signals_that_would_kill_a_daemon_are_logged_and_ignored(sock_dir: Path) -> None:
    socket_path = sock_dir / "sig"
    listen_file = sock_dir / "sig.listen"
    sent = [signal.SIGHUP, *IGNORED_SIGNALS]
    assert {signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGRTMAX} <= set(sent)
    with running_daemon("--socket", str(socket_path), *SERVE_TCP) as daemon:
        for signum in sent:
            daemon.process.send_signal(signum)
            assert _serving(socket_path, listen_file), signum
            assert daemon.process.poll() is None, (signum, daemon.log())
        log = daemon.stop()
    assert "received SIGUSR1: ignored" in log
    assert "received SIGRTMIN: ignored" in log
    assert "received SIGRTMIN+1: ignored" in log
    assert "received SIGRTMAX: ignored" in log
    assert "received SIGHUP: reload" in log
    assert not socket_path.exists()
    assert not listen_file.exists()


@pytest.mark.parametrize("signum", STOPPING_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_stopping_signals_stop_the_daemon_cleanly(sock_dir: Path, signum: int) -> None:
    socket_path = sock_dir / "stop"
    listen_file = sock_dir / "stop.listen"
    daemon = Daemon("--socket", str(socket_path), *SERVE_TCP)
    try:
        daemon.wait_listening()
        assert _serving(socket_path, listen_file)
        assert daemon.signal(signum) == 0, daemon.log()
        assert f"received {signal.Signals(signum).name}: stopping" in daemon.log()
    finally:
        daemon.close()
    assert not socket_path.exists()
    assert not listen_file.exists()


def test_sigpipe_stays_ignored(sock_dir: Path) -> None:
    socket_path = sock_dir / "pipe"
    with running_daemon("--socket", str(socket_path), *SERVE_TCP) as daemon:
        daemon.process.send_signal(signal.SIGPIPE)
        assert _serving(socket_path, sock_dir / "pipe.listen")
        assert daemon.process.poll() is None


def test_sigquit_then_a_second_signal_exits_at_once_leaving_nothing(sock_dir: Path) -> None:
    socket_path = sock_dir / "twice"
    listen_file = sock_dir / "twice.listen"
    args = ("--plugin", "tests.slow_backend:SlowPlugin", "--listen", "tcp://127.0.0.1:0")
    env = {"SLOW_PLUGIN_SECONDS": "60"}
    with running_daemon("--socket", str(socket_path), "--grace", "60", *args, env=env) as daemon:
        assert listen_file.exists()
        with socket.socket(socket.AF_UNIX) as caller:  # a call in flight holds the stop
            caller.connect(str(socket_path))
            body = b'{"jsonrpc":"2.0","id":1,"method":"Instance.Provision","params":{"Spec":{}}}'
            caller.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert _serving(socket_path, listen_file)  # the call has reached the backend
            daemon.process.send_signal(signal.SIGQUIT)
            _wait_for_line(daemon, "received SIGQUIT: stopping")
            assert daemon.signal(signal.SIGTERM) == 128 + signal.SIGTERM
    assert not socket_path.exists()
    assert not listen_file.exists()


def test_a_handler_the_embedding_program_installed_is_kept(sock_dir: Path) -> None:
    socket_path = sock_dir / "own"
    program = (
        "import signal, sys\n"
        "signal.signal(signal.SIGUSR1, lambda *_: print('own handler', file=sys.stderr))\n"
        "from instance_rpc.cli import main\n"
        "main()\n"
    )
    cli = [sys.executable, "-c", program]
    with running_daemon("--socket", str(socket_path), "--plugin", "memory", cli=cli) as daemon:
        daemon.process.send_signal(signal.SIGUSR1)
        _wait_for_line(daemon, "own handler")
        daemon.process.send_signal(signal.SIGUSR2)
        _wait_for_line(daemon, "received SIGUSR2: ignored")
        assert "received SIGUSR1" not in daemon.stop()
