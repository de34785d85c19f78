"""``instance-rpc conformance SOCKET`` against the docker backend without a Properties file: the
suite provisions with the backend's declared example Properties (``busybox:latest``, which the
private engine has as a tag of its test image: no registry is reachable)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from instance_rpc.testing.conformance import CHECK_NAMES
from tests.daemon import run_cli, running_daemon
from tests.docker.engine import Engine
from tests.docker.test_daemon import serve_args


def _tag_as_busybox(engine: Engine) -> None:
    path = f"/images/{quote(engine.image)}/tag?repo=busybox&tag=latest"
    status, body = engine.request("POST", path)
    assert status < 300, body


def test_conformance_passes_with_the_declared_example(engine: Engine, sock_dir: Path) -> None:
    _tag_as_busybox(engine)
    with running_daemon(*serve_args(engine, sock_dir, "x")) as daemon:
        done = run_cli("conformance", str(daemon.socket_path), timeout=300)
        lines = done.stdout.splitlines()
        assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
        assert lines[-1] == f"{len(CHECK_NAMES) + 1} passed, 0 failed"
