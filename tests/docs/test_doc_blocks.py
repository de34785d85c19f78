"""Every code block of the README and the docs that can run is run: shell sessions against real
daemons (their output compared with what the page shows), shell scripts, Python programs
(executed, and type-checked with ``mypy --strict``). Each page runs in order, in a directory
and home of its own, with the venv's ``bin`` first on ``PATH`` (see conftest.py for the pages
that need a daemon or a server set up first). A block that cannot run here is marked
``<!-- doc-test: skip NAME: why -->`` and NAME is listed in :data:`SKIPPED`."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.docs.conftest import PAGE_ENVIRONMENTS
from tests.docs.markdown_blocks import ROOT, Block, blocks_of, doc_pages
from tests.docs.page_run import PageRun, console_commands, matches

SKIPPED: dict[str, str] = {
    # name: the page it is on
    "make-run": "README.md",
    "activate-venv": "README.md",
    "install-from-clone": "README.md",
    "index-make-run": "docs/index.md",
    "index-activate-venv": "docs/index.md",
    "install-make-run": "docs/install.md",
    "install-activate-venv": "docs/install.md",
    "install-venv": "docs/install.md",
    "install-opt": "docs/install.md",
    "install-extras": "docs/install.md",
    "systemd-install": "docs/operations/systemd.md",
    "docker-install": "docs/backends/docker.md",
    "remote-two-hosts": "docs/operations/remote.md",
    "bench-load": "docs/performance.md",
    "typed-properties-fragment": "docs/writing-a-backend.md",
    "conformance-examples": "docs/writing-a-backend.md",
    "editable-strict": "docs/python-api.md",
    "ec2-synopsis": "docs/backends/ec2.md",
}
"""Blocks that cannot run here, by the name their marker gives, with the page they are on."""

ALL_BLOCKS: list[Block] = [block for page in doc_pages() for block in blocks_of(page)]


def _runs(block: Block) -> bool:
    skipped = block.marker is not None and block.marker.kind == "skip"
    listed = block.marker is not None and block.marker.kind == "file"
    return not skipped and (block.runnable or listed)


RUN_PAGES = sorted({block.page for block in ALL_BLOCKS if _runs(block)})


def test_every_skip_is_listed_by_name() -> None:
    skips = [
        (block.marker.name, block.page)
        for block in ALL_BLOCKS
        if block.marker is not None and block.marker.kind == "skip"
    ]
    twice = [name for name, count in Counter(name for name, _ in skips).items() if count > 1]
    assert not twice, f"skips named twice: {twice}"
    unlisted = [f"{name} ({page})" for name, page in skips if SKIPPED.get(name) != page]
    assert not unlisted, f"blocks skipped without being listed in SKIPPED: {unlisted}"
    gone = sorted(set(SKIPPED) - {name for name, _ in skips})
    assert not gone, f"SKIPPED lists skips no page has: {gone}"


def test_only_runnable_blocks_are_skipped() -> None:
    odd = [
        str(block)
        for block in ALL_BLOCKS
        if block.marker is not None and block.marker.kind == "skip" and not block.runnable
    ]
    assert not odd, f"a skip marker on a block that would not run anyway: {odd}"


def test_the_session_reader_sees_its_mistakes() -> None:
    """The comparison itself: a difference fails, `...` stands for any lines, times vary."""
    assert matches(
        ["PASS  handshake (3 ms)", "...", "1 passed"],
        ["PASS  handshake (12 ms)", "x", "y", "1 passed"],
    )
    assert not matches(["inst-1"], ["inst-2"])
    assert not matches(["a", "b"], ["a"])
    assert not matches([], ["unexpected"])
    commands = console_commands("$ echo a \\\n  b\na b\n$ true\n")
    assert [(c.text, c.shown) for c in commands] == [("echo a \n  b", ["a b"]), ("true", [])]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_blocks_run(page: str, page_run: PageRun, request: pytest.FixtureRequest) -> None:
    page_run.page = page
    if page in PAGE_ENVIRONMENTS:
        request.getfixturevalue(PAGE_ENVIRONMENTS[page])
    for block in blocks_of(ROOT / page):
        if _runs(block):
            page_run.run(block)
    page_run.type_check()
