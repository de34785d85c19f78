"""What some tests need from the machine: skipped with a reason where it is missing, required
in CI (``CI=true``), where .ci/run provides it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """End the test for want of ``reason``: a skip, or a failure in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    """The path of ``name``; skips the test naming ``package`` where the tool is missing, and
    fails it in CI, where the tool must be installed."""
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed ({package})")
    return found


def as_nobody() -> list[str]:
    """The command prefix that runs a program as nobody (uid and gid 65534, no groups), for a
    daemon started without root. Skips the test where setpriv (util-linux) is missing, and where
    this interpreter cannot run as nobody: an interpreter built under a home directory only root
    may enter (pyenv under /root) cannot load its own shared library there. That is a fact of how
    the interpreter was installed, which CI cannot change, so it skips in CI too; the run on the
    system's interpreter covers these tests."""
    setpriv = require_tool("setpriv", "util-linux")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd="/",
    )
    if probe.returncode != 0:
        pytest.skip(f"{sys.executable} cannot run as nobody: {probe.stderr.strip()}")
    return prefix


def unavailable_unless_required(variable: str, message: str) -> NoReturn:
    """End the test for want of what ``message`` says: a failure where the environment variable
    ``variable`` is ``1`` (.ci/run sets it where it installs the tool), a skip elsewhere."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but {message}")
    pytest.skip(message)
