"""The recorded Go traffic in tests/wire/golden/ (see its README.md), loaded for comparison."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WIRE_ROOT = Path(__file__).resolve().parent / "golden"
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


def as_go_reads_it(answer: Any) -> Any:
    """Our parsed answer with each error's ``data`` set to ``null``, once checked to be our error
    kind (``{"kind": ...}``): the Go reference answers ``"data": null`` and InfraKit's Go clients
    read only ``code`` and ``message``, which stay compared byte for byte."""
    if isinstance(answer, list):
        return [as_go_reads_it(item) for item in answer]
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), dict):
        return answer
    error = dict(answer["error"])
    data = error.get("data")
    assert isinstance(data, dict), error
    assert isinstance(data.get("kind"), str), error
    error["data"] = None
    return {**answer, "error": error}
