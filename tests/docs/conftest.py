"""Fixtures of the doc-block tests: the venv a reader's shell has on its PATH, and each page's
environment (the daemons and servers its blocks expect to be there).

A page whose blocks need more than a shell (a daemon started before them, a Docker engine, an
EC2-compatible server) names a fixture in :data:`PAGE_ENVIRONMENTS`; that fixture takes
``page_run`` (a :class:`~tests.docs.page_run.PageRun`) and prepares it: ``page_run.set_env``,
``page_run.start`` (a daemon kept until the page ends), ``page_run.substitute`` (text the docs
show, such as an image name, and what it is here).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon import short_tmp_dir
from tests.docs.markdown_blocks import ROOT
from tests.docs.page_run import PageRun

PAGE_ENVIRONMENTS: dict[str, str] = {
    "docs/python-api.md": "file_daemon",
    "docs/protocol.md": "file_daemon",
    "docs/examples.md": "examples_daemon",
    "docs/operations/security.md": "docker_environment",
    "docs/backends/docker.md": "docker_environment",
}
"""Page -> the fixture that prepares its environment."""


@pytest.fixture(scope="session")
def reader_bin() -> Iterator[Path]:
    """A venv of its own whose packages are the project's venv's (a ``.pth`` adds them), with
    ``instance-rpc`` in its ``bin``: what the docs install, but what a page installs more (its
    own backend) goes here, not into the project's venv."""
    with short_tmp_dir() as directory:
        venv = directory / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        python = venv / "bin" / "python"
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        ours = sysconfig.get_path("purelib")
        # A line starting with `import` is run: addsitedir also reads the editable install's .pth.
        Path(purelib, "_instance_rpc_dev.pth").write_text(
            f"import site; site.addsitedir({ours!r})\n"
        )
        command = venv / "bin" / "instance-rpc"
        command.write_text(f"#!{python}\nfrom instance_rpc.cli import main\n\nmain()\n")
        command.chmod(0o755)
        yield venv / "bin"


@pytest.fixture
def page_run(reader_bin: Path) -> Iterator[PageRun]:
    with short_tmp_dir() as directory:
        run = PageRun("", directory, reader_bin)
        try:
            yield run
        finally:
            run.close()


@pytest.fixture
def file_daemon(page_run: PageRun) -> None:
    """`make run`'s daemon: the file backend on ~/.infrakit/plugins/instance-file."""
    page_run.start("instance-rpc serve", [])


@pytest.fixture
def examples_daemon(page_run: PageRun) -> None:
    """A fresh memory daemon, the examples in the working directory, and the command line
    page's web.json."""
    (page_run.work / "examples").symlink_to(ROOT / "examples")
    (page_run.work / "web.json").write_text(
        '{"Tags": {"group": "web"}, "Init": "#!/bin/sh\\necho hello\\n", '
        '"Properties": {"size": "small", "price": 1.50}}\n'
    )
    page_run.start("instance-rpc serve --plugin memory", [])


@pytest.fixture
def docker_environment(page_run: PageRun, request: pytest.FixtureRequest) -> None:
    """The tests' own Docker engine (tests/docker/engine.py) as the page's DOCKER_HOST, and its
    busybox image where the docs show busybox."""
    from tests.docker.engine import HOW_TO_ENABLE, EngineUnavailable

    engine = request.getfixturevalue("doc_engine")
    if isinstance(engine, EngineUnavailable):
        message = f"{HOW_TO_ENABLE} ({engine})"
        if os.environ.get("INSTANCE_RPC_REQUIRE_DOCKER") == "1":
            pytest.fail(f"INSTANCE_RPC_REQUIRE_DOCKER=1 but {message}")
        pytest.skip(message)
    page_run.set_env({"DOCKER_HOST": engine.host})
    page_run.substitute("busybox:latest", engine.image)


@pytest.fixture(scope="session")
def doc_engine() -> Iterator[object]:
    """The private engine, or why there is none (the page then skips, or fails in CI)."""
    from tests.docker.engine import EngineUnavailable, private_engine

    try:
        import aiodocker  # noqa: F401
    except ImportError:
        yield EngineUnavailable("aiodocker is not installed (pip install '.[docker]')")
        return
    with contextlib.ExitStack() as stack:
        try:
            started = stack.enter_context(private_engine())
        except EngineUnavailable as exc:
            yield exc
            return
        yield started
