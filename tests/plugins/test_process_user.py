"""The process backend's instances: the environment they start with (never the daemon's) and the
user they run as (``--run-as``), through real daemons and real processes."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import Any

import pytest

from instance_rpc import TERMINATION, PluginClient, Spec
from instance_rpc.types import load_properties
from instance_rpc_plugins.process import _cgroup
from instance_rpc_plugins.process._user import SAFE_PATH
from tests.daemon import CLI, eventually, run_cli, running_daemon, short_tmp_dir
from tests.tools import as_nobody

_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-daemon-secret",
    "INSTANCE_RPC_TLS_KEY_PASSWORD": "tls-secret",
    "NOTIFY_SOCKET": "/run/instance-rpc-test/notify",
    "LISTEN_FDS": "1",
    "LISTEN_PID": "1",
    "HOME": "/root/daemon-home",
    "LANG": "C.UTF-8",
    "TERM": "xterm-256color",
}

_needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.decode().split("=", 1) for entry in raw.split(b"\0") if entry)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


async def _view(client: PluginClient, instance_id: str) -> dict[str, Any]:
    described = await client.describe_instances({}, properties=True)
    [found] = [d for d in described if d.id == instance_id]
    view: dict[str, Any] = load_properties(found.properties)
    return view


async def _members(client: PluginClient, instance_id: str, count: int) -> list[int]:
    """The instance's live pids, once there are ``count`` of them."""

    async def reached() -> bool:
        return len((await _view(client, instance_id))["processes"]) == count

    await eventually(reached, what=f"{count} processes in {instance_id}")
    pids: list[int] = (await _view(client, instance_id))["processes"]
    return pids


async def test_an_instance_gets_a_clean_environment_never_the_daemons() -> None:
    """The daemon's environment holds secrets and systemd's variables; the Init and its
    children see only the documented set, the Properties' env and the marker."""
    me = pwd.getpwuid(os.geteuid())
    with short_tmp_dir() as tmp:
        sock = tmp / "p.sock"
        args = ("--socket", str(sock), "--plugin", "process", "--dir", str(tmp / "state"))
        with running_daemon(*args, env=_SECRETS):
            async with PluginClient(sock) as client:
                properties = {"env": {"PORT": "8080", "HOME": "/srv/app"}}
                instance_id = str(
                    await client.provision(
                        Spec(init="sleep 30 &\nexec sleep 31", properties=properties)
                    )
                )
                pids = await _members(client, instance_id, 2)
                expected = {
                    "PATH": SAFE_PATH,
                    "HOME": "/srv/app",
                    "USER": me.pw_name,
                    "LOGNAME": me.pw_name,
                    "PORT": "8080",
                    "INSTANCE_RPC_INSTANCE": instance_id,
                }
                for pid in pids:
                    environ = _environ(pid)
                    environ.pop("PWD", None)  # the shell's own, exported to what it starts
                    assert environ == expected, pid
                await client.destroy(instance_id, TERMINATION)


def test_an_unknown_user_or_group_is_refused_at_start_up_in_one_line() -> None:
    with short_tmp_dir() as tmp:
        for run_as, reason in [
            ("no-such-user-irpc", "--run-as no-such-user-irpc: no such user"),
            (
                "nobody:no-such-group-irpc",
                "--run-as nobody:no-such-group-irpc: no such group 'no-such-group-irpc'",
            ),
            ("nobody:", "--run-as 'nobody:': expected USER or USER:GROUP"),
        ]:
            args = ("--socket", str(tmp / "p.sock"), "--plugin", "process", "--dir", str(tmp))
            done = run_cli("serve", *args, "--run-as", run_as, timeout=30)
            assert done.returncode == 1, done
            assert done.stderr.splitlines() == [f"instance-rpc: {reason}"], done.stderr
            assert not (tmp / "p.sock").exists()


@_needs_root
def test_a_daemon_that_is_not_root_cannot_run_instances_as_another_user() -> None:
    nobody = as_nobody()
    with short_tmp_dir() as tmp:
        args = ("--socket", str(tmp / "p.sock"), "--plugin", "process", "--dir", str(tmp))
        done = subprocess.run(
            [*nobody, *CLI, "serve", *args, "--run-as", "root"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        "instance-rpc: --run-as root: the daemon runs as uid 65534 and cannot change user or "
        "group (that needs root)"
    ], done.stderr


@_needs_root
async def test_run_as_runs_every_process_of_the_instance_as_that_user() -> None:
    """--run-as nobody: the Init shell and its children run as nobody's uid and gid with
    nobody's groups only, start in a directory nobody may use, write their output through the
    daemon's log file, and cannot write into the daemon's state directory."""
    nobody = pwd.getpwnam("nobody")
    with short_tmp_dir() as tmp:
        tmp.chmod(0o755)  # let nobody reach the state directory, to show that it is closed
        sock, state = tmp / "p.sock", tmp / "state"
        args = ("--socket", str(sock), "--plugin", "process", "--dir", str(state))
        with running_daemon(*args, "--run-as", "nobody"):
            async with PluginClient(sock) as client:
                init = f"touch {state}/forged.json; echo touch=$?; id -u; sleep 30 &\nexec sleep 31"
                instance_id = str(await client.provision(Spec(init=init)))
                pids = await _members(client, instance_id, 2)
                cgroup = (await _view(client, instance_id))["cgroup"]
                for pid in pids:
                    # moved in by the daemon: nobody could not have moved itself
                    assert cgroup is None or pid in _cgroup.procs(Path(cgroup)), pid
                    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
                    status = _status(pid)
                    assert status["Uid"].split() == [str(nobody.pw_uid)] * 4, pid
                    assert status["Gid"].split() == [str(nobody.pw_gid)] * 4, pid
                    assert status["Groups"].split() == [str(nobody.pw_gid)], pid
                    assert _environ(pid)["HOME"] == nobody.pw_dir
                    assert os.readlink(f"/proc/{pid}/cwd") == "/"  # nobody's home is missing
                log = state / f"{instance_id}.log"

                async def written() -> bool:
                    return log.read_text().count("\n") >= 3

                await eventually(written, what="the instance's output")
                lines = log.read_text().splitlines()
                assert lines[-2:] == ["touch=1", str(nobody.pw_uid)], lines
                assert not (state / "forged.json").exists()
                await client.destroy(instance_id, TERMINATION)
