"""The recorded Go traffic in ../shared/wire/, loaded for comparison."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _wire_root() -> Path:
    configured = os.environ.get("INSTANCE_RPC_WIRE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "wire"


WIRE_ROOT = _wire_root()
VERSIONS = ["infrakit-0.6.0", "infrakit-0.6.1"]


@dataclass(frozen=True)
class Exchange:
    number: str
    method: str
    label: str
    request: bytes | None
    response: bytes


def exchanges(version: str) -> list[Exchange]:
    folder = WIRE_ROOT / version
    if not folder.is_dir():
        pytest.skip(f"no recorded wire traffic at {folder}")
    rows = (folder / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]
    found = []
    for row in rows:
        number, name, _status, _ctype, label, _summary = row.split("\t")
        request = folder / f"{number}-{name}.request.json"
        found.append(
            Exchange(
                number=number,
                method=name,
                label=label,
                request=request.read_bytes() if request.exists() else None,
                response=(folder / f"{number}-{name}.response.json").read_bytes(),
            )
        )
    return found


def literal(document: bytes | str) -> Any:
    """Parse JSON keeping number literals as written: 1.50 and 1.5 stay different."""
    return json.loads(
        document,
        parse_float=lambda text: ("number", text),
        parse_int=lambda text: ("number", text),
    )


def without_id(document: Any) -> Any:
    return {key: value for key, value in document.items() if key != "id"}
