"""Helpers of the command line tests: a recording backend, an in-process runner, a fake plugin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from instance_rpc.cli import main
from instance_rpc.testing.daemon import spawn_daemon
from instance_rpc.types import Context
from instance_rpc_plugins.memory import MemoryPlugin


class RecordingPlugin(MemoryPlugin):
    """A memory backend that remembers why each instance was destroyed."""

    def __init__(self) -> None:
        super().__init__()
        self.destroyed: list[tuple[str, str]] = []

    async def destroy(self, instance: str, context: Context) -> None:
        await super().destroy(instance, context)
        self.destroyed.append((instance, context.reason))


@contextlib.contextmanager
def plugins_directory(prefix: str) -> Iterator[Path]:
    """A fresh ``plugins`` directory (under ``/tmp``: socket paths must stay short), removed
    with its parent afterwards."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    directory = home / "plugins"
    directory.mkdir()
    try:
        yield directory
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def daemon_process(plugins_dir: Path, name: str, *args: str) -> Iterator[Path]:
    """``instance-rpc serve ARGS`` in a process of its own, as the plugin ``name`` of
    ``plugins_dir``; its log is ``daemon.log`` beside the directory."""
    log = plugins_dir.parent / "daemon.log"
    with spawn_daemon(list(args), plugins_dir / name, log=log) as path:
        yield path


def run_command(plugins_dir: Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """``instance-rpc ARGS`` in a process of its own, finding plugins in ``plugins_dir``."""
    env = {**os.environ, "INFRAKIT_PLUGINS_DIR": str(plugins_dir)}
    return subprocess.run(
        [sys.executable, "-m", "instance_rpc", *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


class Cli:
    """Runs ``instance-rpc`` in-process; stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None) -> Result:
        return self.runner.invoke(main, list(args), input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | bytes | None = None) -> str:
        """stdout of a run that must succeed without a word on stderr."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        assert result.stderr == ""
        return result.stdout

    def fails(self, *args: str, input: str | bytes | None = None) -> str:
        """The one stderr line of a run that must fail with status 1 (without the prefix)."""
        result = self(*args, input=input)
        assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("instance-rpc: "), lines[0]
        return lines[0].removeprefix("instance-rpc: ")


def table_rows(text: str) -> list[list[str]]:
    """A rendered table as rows of cells (columns are two or more spaces apart)."""
    return [[cell.strip() for cell in line.split("  ") if cell] for line in text.splitlines()]


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def fake_plugin(path: Path, answers: Mapping[str, dict[str, Any]]) -> Iterator[Path]:
    """A JSON-RPC server on ``path`` that answers each method with a fixed result or error.

    ``answers`` maps a method name to ``{"result": ...}`` or ``{"error": {...}}``; other methods
    get -32601.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            missing = {"error": {"code": -32601, "message": "Method not found"}}
            answer = {"jsonrpc": "2.0", "id": request["id"]}
            answer.update(answers.get(request["method"], missing))
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _UnixHTTPServer(str(path), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        path.unlink(missing_ok=True)
