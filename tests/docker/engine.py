"""A private Docker engine for the tests: ``dockerd`` on a socket in a temporary directory,
with an image imported from a root filesystem made of Debian's static busybox (no registry).

    with private_engine() as engine:
        engine.host      # "unix:///tmp/irpc-dk-.../d.sock"
        engine.image     # "instance-rpc-test/busybox:latest"

dockerd runs with ``--storage-driver vfs --iptables=false --bridge=none``; everything it and
its managed containerd keep (data, exec root, sockets, pid files) lives under the temporary
directory, so several runs on one machine never collide. At the end every container and
network the tests left is removed, dockerd is stopped by its PID (SIGTERM, then SIGKILL) and the
directory is removed.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

IMAGE_REPOSITORY = "instance-rpc-test/busybox"
IMAGE = f"{IMAGE_REPOSITORY}:latest"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "sleep", "echo", "cat", "ls", "true", "false", "env", "ip", "touch")
HOW_TO_ENABLE = (
    "docker tests need a Docker engine: apt-get install -y docker.io busybox-static, run as root"
)
_START_SECONDS = 60.0
_STOP_SECONDS = 20.0
_PREDEFINED_NETWORKS = {"bridge", "host", "none"}


class EngineUnavailable(RuntimeError):
    """This machine cannot run a private engine; the message says why."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


@dataclass
class Engine:
    """A running private engine."""

    root: Path
    process: subprocess.Popen[bytes]
    image: str = IMAGE

    @property
    def socket_path(self) -> Path:
        return self.root / "d.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket_path}"

    def log(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float = 60.0,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """One Engine API call; its status and body."""
        connection = _UnixConnection(str(self.socket_path), timeout)
        try:
            headers = {"Content-Type": content_type}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str) -> Any:
        status, body = self.request(method, path)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {body.decode(errors='replace')}")
        return json.loads(body) if body else None


def unavailable_reason() -> str | None:
    """Why this machine cannot run the engine, or None."""
    if os.geteuid() != 0:
        return "not root"
    for program in ("dockerd", "containerd", "runc"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    if not BUSYBOX.is_file():
        return f"{BUSYBOX} is not installed"
    return None


def _rootfs_tar() -> bytes:
    """A root filesystem: /bin/busybox and its applets as symbolic links, /tmp, /mnt."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "mnt", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def _wait_ready(engine: Engine) -> None:
    """Until dockerd answers ``/_ping`` (bounded); raise with its log if it dies or stays mute."""
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited ({engine.process.returncode}): {engine.log()}")
        with contextlib.suppress(OSError):
            if engine.request("GET", "/_ping", timeout=5)[0] == 200:
                return
        time.sleep(0.05)
    raise EngineUnavailable(f"dockerd did not answer within {_START_SECONDS:g}s: {engine.log()}")


DEFAULT_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]
"""The test image's own command: runs until SIGTERM (Properties without ``Cmd`` run it)."""


def import_image(engine: Engine) -> None:
    """``docker import`` of the busybox root filesystem, as :data:`IMAGE`, with
    :data:`DEFAULT_CMD` as its command."""
    change = quote(f"CMD {json.dumps(DEFAULT_CMD)}")
    query = f"fromSrc=-&repo={quote(IMAGE_REPOSITORY)}&tag=latest&changes={change}"
    tar = _rootfs_tar()
    status, body = engine.request("POST", f"/images/create?{query}", tar, 120, "application/x-tar")
    if status != 200 or b'"error"' in body:
        raise EngineUnavailable(f"cannot import the test image: {status} {body!r}")


def clean(engine: Engine) -> list[str]:
    """Remove every container and user-defined network (a bridge network is a host interface,
    which outlives dockerd); return the IDs of those networks."""
    for container in engine.json("GET", "/containers/json?all=1"):
        engine.request("DELETE", f"/containers/{container['Id']}?force=1&v=1")
    networks = [
        n["Id"] for n in engine.json("GET", "/networks") if n["Name"] not in _PREDEFINED_NETWORKS
    ]
    for network_id in networks:
        for endpoint in engine.json("GET", f"/networks/{network_id}").get("Containers") or {}:
            body = json.dumps({"Container": endpoint, "Force": True}).encode()
            engine.request("POST", f"/networks/{network_id}/disconnect", body)
        engine.request("DELETE", f"/networks/{network_id}")
    return networks


def _remove_bridges(network_ids: list[str]) -> None:
    """Host interfaces of this engine's bridge networks still there after it stopped."""
    present = set(os.listdir("/sys/class/net"))
    for network_id in network_ids:
        bridge = f"br-{network_id[:12]}"
        if bridge in present:
            subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)


def _stop(engine: Engine) -> None:
    networks: list[str] = []
    with contextlib.suppress(Exception):
        networks = clean(engine)
    process = engine.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _kill_containerd(engine)
    _remove_bridges(networks)


def _start_dockerd(root: Path) -> subprocess.Popen[bytes]:
    with open(root / "dockerd.log", "ab") as log:
        return subprocess.Popen(
            [
                "dockerd",
                f"--host=unix://{root / 'd.sock'}",
                f"--data-root={root / 'data'}",
                f"--exec-root={root / 'x'}",
                f"--pidfile={root / 'd.pid'}",
                "--storage-driver=vfs",
                "--iptables=false",
                "--bridge=none",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_containerd(engine: Engine) -> None:
    """A dockerd killed before it stopped its containerd leaves it behind: stop that one too."""
    pid_file = engine.root / "x" / "containerd" / "containerd.pid"
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


def kill_and_restart(engine: Engine) -> None:
    """``kill -9`` of dockerd (and its containerd), then dockerd again on the same directory;
    returns once it answers."""
    engine.process.kill()
    engine.process.wait()
    _kill_containerd(engine)
    # its pid may linger (a zombie nobody reaps here): without the file dockerd starts another
    (engine.root / "x" / "containerd" / "containerd.pid").unlink(missing_ok=True)
    engine.process = _start_dockerd(engine.root)
    _wait_ready(engine)


@contextlib.contextmanager
def private_engine() -> Iterator[Engine]:
    """Start dockerd in a short temporary directory; yield it ready, with the test image."""
    reason = unavailable_reason()
    if reason is not None:
        raise EngineUnavailable(reason)
    root = Path(tempfile.mkdtemp(prefix="irpc-dk-", dir="/tmp"))
    try:
        engine = Engine(root, _start_dockerd(root))
        try:
            _wait_ready(engine)
            import_image(engine)
            yield engine
        finally:
            _stop(engine)
    finally:
        shutil.rmtree(root, ignore_errors=True)
