"""A private image registry for the pull tests: Debian's ``docker-registry`` (the CNCF
distribution registry) on a free loopback port, its storage in a temporary directory.

    with private_registry() as registry:
        registry.address          # "127.0.0.1:43121" (the engine pulls from loopback over HTTP)
        registry.layer_blobs("irpc/busybox", "v2")   # paths of a tag's layer blobs on disk

Stopped (SIGTERM, then SIGKILL) and its directory removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "docker-registry"
HOW_TO_ENABLE = "pull tests need Debian's docker-registry: apt-get install -y docker-registry"
_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


class RegistryUnavailable(RuntimeError):
    """The registry cannot run here; the message says why."""


@dataclass
class Registry:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def manifest(self, repository: str, tag: str) -> dict[str, object]:
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{tag}", headers={"Accept": _MANIFEST}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            document: dict[str, object] = json.loads(response.read())
            return document

    def layer_blobs(self, repository: str, tag: str) -> list[Path]:
        """Where the registry keeps the layers of ``repository:tag`` on disk."""
        layers = self.manifest(repository, tag)["layers"]
        assert isinstance(layers, list)
        blobs = self.root / "data" / "docker" / "registry" / "v2" / "blobs"
        paths = []
        for layer in layers:
            algorithm, _, digest = str(layer["digest"]).partition(":")
            paths.append(blobs / algorithm / digest[:2] / digest / "data")
        return paths


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(registry: Registry, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise RegistryUnavailable(f"{REGISTRY} exited: {log.read_text(errors='replace')}")
        url = f"http://{registry.address}/v2/"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.05)
    raise RegistryUnavailable(f"{REGISTRY} did not answer: {log.read_text(errors='replace')}")


@contextlib.contextmanager
def private_registry() -> Iterator[Registry]:
    program = shutil.which(REGISTRY)
    if program is None:
        raise RegistryUnavailable(f"{REGISTRY} is not installed")
    root = Path(tempfile.mkdtemp(prefix="irpc-reg-"))
    port = _free_port()
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    log = root / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [program, "serve", str(root / "config.yml")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registry = Registry(root, port, process)
    try:
        _wait_ready(registry, log)
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
