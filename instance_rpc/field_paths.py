"""Precise field paths in params errors.

msgspec reports a bad value inside a map as ``$.Spec.Tags[...]``; callers want the key:
``$.Spec.Tags.a``. The maps of the Instance interface (Tags, Labels) hold strings, so the key is
the first one whose value is not a string.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = ["name_map_keys", "render_key"]

_PATH = re.compile(r"`(\$[^`]*)`$")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def render_key(key: str) -> str:
    """One map key as a path segment: ``.name`` for an identifier, else ``["a.b"]``."""
    return f".{key}" if _IDENTIFIER.match(key) else f"[{msgspec.json.encode(key).decode()}]"


def _resolve(path: str, document: Any) -> str | None:
    rendered = "$"
    node = document
    for name, index in _SEGMENT.findall(path[1:]):
        if name:
            if not isinstance(node, dict) or name not in node:
                return None
            node, rendered = node[name], f"{rendered}.{name}"
        elif index == "...":
            if not isinstance(node, dict):
                return None
            key = next((k for k, v in node.items() if not isinstance(v, str)), None)
            if key is None:
                return None
            node, rendered = node[key], rendered + render_key(key)
        else:
            position = int(index)
            if not isinstance(node, list) or position >= len(node):
                return None
            node, rendered = node[position], f"{rendered}[{position}]"
    return rendered


def name_map_keys(message: str, params: bytes | msgspec.Raw | None) -> str:
    """``message`` with each ``[...]`` of its path replaced by the offending map key."""
    match = _PATH.search(message)
    if match is None or "[...]" not in match.group(1) or params is None:
        return message
    try:
        document = msgspec.json.decode(params)
    except msgspec.DecodeError:
        return message
    resolved = _resolve(match.group(1), document)
    if resolved is None:
        return message
    return f"{message[: match.start(1)]}{resolved}`"
