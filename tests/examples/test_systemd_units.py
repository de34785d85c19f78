"""examples/systemd: the units pass systemd's own checks and ask serve only for what it has."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon import run_cli, running_daemon
from tests.examples.conftest import EXAMPLES
from tests.tools import require_tool

UNITS = EXAMPLES / "systemd"
INSTALLED = "/opt/instance-rpc/bin/instance-rpc"
"""Where the units expect the command: the virtual environment the docs tell operators to make."""
DOCS = Path(__file__).resolve().parents[2] / "docs"


def exec_start() -> str:
    text = (UNITS / "instance-rpc@.service").read_text()
    found = re.search(r"^ExecStart=(.*)$", text, re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_the_units_verify(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "Debian's systemd package")
    command = Path(sys.executable).parent / "instance-rpc"
    assert command.exists()
    for unit in ("instance-rpc@.socket", "instance-rpc@.service"):
        text = (UNITS / unit).read_text().replace(INSTALLED, str(command))
        (tmp_path / unit).write_text(text)
        (tmp_path / unit.replace("@.", "@web.")).symlink_to(tmp_path / unit)
    verified = subprocess.run(
        [analyze, "verify", "--man=no", "instance-rpc@web.socket", "instance-rpc@web.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""


def test_exec_start_uses_only_options_serve_has() -> None:
    command = exec_start().split()
    assert command[:2] == [INSTALLED, "serve"]
    options = {word.split("=")[0] for word in command if word.startswith("--")}
    assert "--name" in options  # the plugin, and its state, named after the socket unit
    help_text = run_cli("serve", "--help").stdout
    for option in options:
        assert option in help_text


@pytest.mark.parametrize("backend", ["file", "memory", "process"])
def test_exec_start_serves_each_backend_as_written(backend: str, sock_dir: Path) -> None:
    """ExecStart as systemd runs it (``%i`` the instance, the backend from the drop-in's
    INSTANCE_RPC_BACKEND, ``$STATE_DIRECTORY`` from StateDirectory=), outside systemd: every
    option it passes applies to the backend chosen."""
    words = exec_start().replace("%i", "web").replace("${INSTANCE_RPC_BACKEND}", backend).split()
    env = {
        "INFRAKIT_PLUGINS_DIR": str(sock_dir / "plugins"),
        "STATE_DIRECTORY": str(sock_dir / "state"),
    }
    with running_daemon(*words[2:], env=env) as daemon:
        assert daemon.socket_path == sock_dir / "plugins" / "web"
        assert daemon.signal(signal.SIGTERM) == 0


def test_the_docs_create_the_path_the_units_run() -> None:
    """The systemd page and the Install page tell operators to make the venv the units run."""
    venv = INSTALLED.removesuffix("/bin/instance-rpc")
    for page in ("operations/systemd.md", "install.md"):
        text = (DOCS / page).read_text()
        assert f"python3 -m venv {venv}\n" in text, page
        assert f"{venv}/bin/pip install ." in text, page
        assert "/usr/local/bin" not in text, page
    for unit in ("instance-rpc@.socket", "instance-rpc@.service"):
        text = (UNITS / unit).read_text()
        assert "/usr/local/bin" not in text
        assert "pypi.org" not in text  # the package is installed from the clone, not an index
