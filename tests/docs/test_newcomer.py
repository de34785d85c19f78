"""A newcomer's path, from an empty directory, following only the docs: install instance-rpc
from the clone into a fresh venv (the Install page's commands), then the README's tour (serve,
the CLI, a Python client) and the Writing a backend page (write a backend, install it, serve it,
``instance-rpc conformance`` passes, its pytest tests pass), each with the fresh venv's ``bin``
first on ``PATH`` and nothing of the project's own venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.daemon import short_tmp_dir
from tests.docs.markdown_blocks import ROOT, Block, blocks_of
from tests.docs.page_run import PageRun

INSTALL_BLOCK = "install-venv"
"""The Install page's block that makes a venv from the clone and installs into it."""


def _clone_as_it_is(target: Path) -> None:
    """The working tree's files (tracked and new, as they are now), as a clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink() or source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination, follow_symlinks=False)


def _block_named(page: str, name: str) -> Block:
    for block in blocks_of(ROOT / page):
        if block.marker is not None and block.marker.name == name:
            return block
    raise AssertionError(f"{page} has no block {name!r}")


def _run_page(page: str, directory: Path, bin_dir: Path) -> None:
    run = PageRun(page, directory, bin_dir)
    # Only the newcomer's venv: the project's (and this interpreter's) must not be reached.
    run.set_env({"PATH": f"{bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin"})
    try:
        for block in blocks_of(ROOT / page):
            marker = block.marker
            if marker is not None and marker.kind == "skip":
                continue
            if block.runnable or (marker is not None and marker.kind == "file"):
                run.run(block)
    finally:
        run.close()


def test_a_newcomer_installs_serves_calls_and_writes_a_backend() -> None:
    with short_tmp_dir() as directory:
        clone = directory / "instance-rpc"
        home = directory / "home"
        tools = directory / "tools"
        home.mkdir()
        tools.mkdir()
        _clone_as_it_is(clone)
        # The machine's python3: the interpreter the tests run on (a venv made from it is fresh).
        (tools / "python3").symlink_to(sys.executable)
        install = _block_named("docs/install.md", INSTALL_BLOCK)
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", install.text],
            cwd=clone,
            env={
                "PATH": f"{tools}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                "HOME": str(home),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
            },
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        venv_bin = home / ".local" / "instance-rpc" / "bin"
        shown = subprocess.run(
            [str(venv_bin / "python"), "-c", "import instance_rpc; print(instance_rpc.__file__)"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert shown.startswith(str(venv_bin.parent)), f"instance_rpc imported from {shown}"
        for number, page in enumerate(("README.md", "docs/writing-a-backend.md")):
            page_directory = directory / f"page-{number}"
            page_directory.mkdir()
            _run_page(page, page_directory, venv_bin)
