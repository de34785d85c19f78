"""``instance-rpc serve`` as a user runs it: a real process, signals, the socket's life."""

from __future__ import annotations

import asyncio
import signal
import socket
import stat
from pathlib import Path

import pytest

from instance_rpc import PluginClient, Spec
from tests.daemon import run_cli, running_daemon
from tests.session_backend import JOURNAL_VARIABLE

SESSION = "tests.session_backend:SessionPlugin"


def plugins_env(sock_dir: Path) -> dict[str, str]:
    return {"INFRAKIT_PLUGINS_DIR": str(sock_dir / "plugins")}


def test_serve_listens_privately_in_the_plugins_dir_and_cleans_up(sock_dir: Path) -> None:
    env = plugins_env(sock_dir)
    with running_daemon("--plugin", "memory", "--name", "web", env=env) as running:
        assert running.socket_path == sock_dir / "plugins" / "web"
        assert stat.S_IMODE(running.socket_path.stat().st_mode) == 0o600
        assert stat.S_IMODE((sock_dir / "plugins").stat().st_mode) == 0o700

        async def use() -> list[str]:
            async with PluginClient("web", plugins_dir=sock_dir / "plugins") as plugin:
                await plugin.provision(Spec(tags={"a": "b"}))
                return [d.id for d in await plugin.describe_instances({"a": "b"})]

        assert asyncio.run(use()) == ["inst-1"]
        assert running.signal(signal.SIGTERM) == 0
        assert not running.socket_path.exists()


def test_a_backends_aclose_runs_on_the_loop_before_its_close(sock_dir: Path) -> None:
    journal = sock_dir / "journal"
    env = {JOURNAL_VARIABLE: str(journal)}
    path = sock_dir / "s.sock"
    with running_daemon("--socket", str(path), "--plugin", SESSION, env=env) as running:
        assert running.signal(signal.SIGTERM) == 0
    assert journal.read_text() == "aclose on the loop\nclose\n"


def test_serve_default_name_and_sigint(sock_dir: Path) -> None:
    env = {**plugins_env(sock_dir), "XDG_STATE_HOME": str(sock_dir / "state")}
    with running_daemon(env=env) as running:
        assert running.socket_path.name == "instance-file"
        assert running.signal(signal.SIGINT) == 0
        assert not running.socket_path.exists()


def test_socket_mode_option(sock_dir: Path) -> None:
    path = sock_dir / "shared.sock"
    args = ("--plugin", "memory", "--socket", str(path), "--socket-mode", "660")
    with running_daemon(*args, "--socket-group", "0") as running:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        assert path.stat().st_gid == 0
        assert running.signal(signal.SIGTERM) == 0


def test_a_second_daemon_on_a_live_socket_is_refused(sock_dir: Path) -> None:
    path = sock_dir / "live.sock"
    with running_daemon("--plugin", "memory", "--socket", str(path)):
        second = run_cli("serve", "--plugin", "memory", "--socket", str(path))
        assert second.returncode == 1
        assert "another daemon is already" in second.stderr
        assert str(path) in second.stderr
        assert "Traceback" not in second.stderr

        async def still_answers() -> str | None:
            async with PluginClient(path) as plugin:
                return await plugin.provision(Spec())

        assert asyncio.run(still_answers()) == "inst-1"


def test_a_stale_socket_is_replaced(sock_dir: Path) -> None:
    path = sock_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))  # bound, never listening, closed: what a kill -9 leaves
    assert path.exists()
    with running_daemon("--plugin", "memory", "--socket", str(path)) as running:
        assert running.socket_path == path
        assert running.signal(signal.SIGTERM) == 0
    assert not path.exists()


def test_a_path_that_is_not_a_socket_is_never_removed(sock_dir: Path) -> None:
    path = sock_dir / "precious.txt"
    path.write_text("keep me")
    refused = run_cli("serve", "--plugin", "memory", "--socket", str(path))
    assert refused.returncode == 1
    assert "exists and is not a socket" in refused.stderr
    assert path.read_text() == "keep me"


def test_unknown_backend_is_one_clear_line(sock_dir: Path) -> None:
    refused = run_cli("serve", "--socket", str(sock_dir / "x"), "--plugin", "nope")
    assert refused.returncode == 1
    assert "unknown backend 'nope'" in refused.stderr
    assert "memory" in refused.stderr
    assert "Traceback" not in refused.stderr


SLOW = ("--plugin", "tests.slow_backend:SlowPlugin")


def test_in_flight_calls_finish_on_sigterm(sock_dir: Path) -> None:
    path = sock_dir / "slow.sock"
    with running_daemon(*SLOW, "--socket", str(path), env={"SLOW_PLUGIN_SECONDS": "1"}) as running:

        async def provision_while_stopping() -> str | None:
            async with PluginClient(path) as plugin:
                await plugin.handshake()
                call = asyncio.create_task(plugin.provision(Spec()))
                await asyncio.sleep(0.3)  # let the call reach the daemon before the signal
                running.process.send_signal(signal.SIGTERM)
                return await call

        assert asyncio.run(provision_while_stopping()) == "inst-1"
        assert running.process.wait(15) == 0
    assert not path.exists()


def test_a_second_signal_exits_at_once(sock_dir: Path) -> None:
    path = sock_dir / "stuck.sock"
    args = (*SLOW, "--socket", str(path), "--grace", "60")
    with running_daemon(*args, env={"SLOW_PLUGIN_SECONDS": "60"}) as running:

        async def stuck_call() -> None:
            async with PluginClient(path) as plugin:
                await plugin.handshake()
                call = asyncio.create_task(plugin.provision(Spec()))
                await asyncio.sleep(0.3)
                running.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                running.process.send_signal(signal.SIGTERM)
                with pytest.raises(Exception):  # noqa: B017, PT011  the daemon is gone mid-call
                    await call

        asyncio.run(stuck_call())
        assert running.process.wait(10) == 128 + signal.SIGTERM
        assert "second signal" in running.log()
    assert not path.exists()


def test_logs_one_line_per_call_and_never_a_secret(sock_dir: Path) -> None:
    path = sock_dir / "logs.sock"
    with running_daemon(
        "--plugin", "memory", "--socket", str(path), "--log-level", "debug"
    ) as running:

        async def calls() -> None:
            async with PluginClient(path) as plugin:
                spec = Spec(
                    properties={"password": "hunter2", "size": 2}, tags={"api_token": "t0k"}
                )
                await plugin.provision(spec)
                await plugin.describe_instances({}, properties=True)

        asyncio.run(calls())
        log = running.stop()
    assert "hunter2" not in log
    assert "t0k" not in log
    assert '"password":"***"' in log
    assert "Instance.Provision type=. ok (" in log
    assert "Instance.DescribeInstances type=. ok (" in log


def test_listening_on_is_said_once(sock_dir: Path) -> None:
    """On stdout, where starters wait for it; the log (stderr) does not repeat it at INFO."""
    with running_daemon("--plugin", "memory", "--socket", str(sock_dir / "once.sock")) as running:
        assert running.listening.startswith("listening on ")
        log = running.stop()
    assert "listening on" not in log
