"""The fenced code blocks of the docs' Markdown pages, with the ``doc-test`` marker before each.

A marker is an HTML comment on the line just before a block's opening fence (invisible in the
rendered page):

- ``<!-- doc-test: skip NAME: why -->``: the block cannot run here (an IAM policy, systemd on a
  real host); NAME must be listed in the test, which fails on a skip it does not know;
- ``<!-- doc-test: file PATH -->``: the block is a file the page's later blocks use, written to
  PATH in the page's directory (a Python one is type-checked too);
- ``<!-- doc-test: background -->``: a console block whose command keeps running (a server):
  it is started, its shown output awaited, and it is stopped when the page ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUNNABLE", "Block", "Marker", "blocks_of", "doc_pages"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""

RUNNABLE = frozenset({"sh", "bash", "console", "python"})
"""Languages of blocks that are programs or shell sessions; others (json, toml, ...) are data."""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<kind>\w[\w-]*)\s*(?P<rest>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Marker:
    """A ``doc-test`` comment: ``kind`` (``skip``, ``file`` or ``background``) and its text."""

    kind: str
    name: str = ""
    """The skip's name, or the file's path."""
    why: str = ""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text (indentation removed) and marker."""

    page: str
    """The page's path from the repository's root, ``docs/cli.md`` or ``README.md``."""
    line: int
    """The opening fence's line number (1-based)."""
    language: str
    text: str
    marker: Marker | None

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language or 'no language'})"


def _marker(line: str, where: str) -> Marker | None:
    found = _MARKER.match(line)
    if found is None:
        if "doc-test" in line:
            raise ValueError(f"{where}: malformed doc-test marker {line.strip()!r}")
        return None
    kind, rest = found.group("kind"), found.group("rest")
    if kind == "skip":
        name, colon, why = rest.partition(":")
        if not colon or not name.strip() or not why.strip():
            raise ValueError(f"{where}: a skip needs a name and a reason: 'skip NAME: why'")
        return Marker("skip", name.strip(), why.strip())
    if kind == "file":
        if not rest:
            raise ValueError(f"{where}: 'file' needs a path")
        return Marker("file", rest)
    if kind == "background":
        return Marker("background")
    raise ValueError(f"{where}: unknown doc-test marker {kind!r}")


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    name = page.relative_to(ROOT).as_posix()
    lines = page.read_text().split("\n")
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        language = opening.group("info").strip().split(" ")[0]
        previous = lines[index - 1] if index > 0 else ""
        marker = _marker(previous, f"{name}:{index}")
        body: list[str] = []
        closing = index + 1
        while closing < len(lines) and lines[closing].strip() != fence:
            body.append(lines[closing].removeprefix(indent))
            closing += 1
        if closing == len(lines):
            raise ValueError(f"{name}:{index + 1}: the block is never closed")
        text = "\n".join(body) + "\n"
        blocks.append(Block(name, index + 1, language, text, marker))
        index = closing + 1
    return blocks


def doc_pages() -> list[Path]:
    """The README and every page of the docs site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
