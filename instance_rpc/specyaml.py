"""Spec documents in YAML, read as data without YAML 1.1's silent conversions where strings are due.

YAML 1.1 (PyYAML's safe loader) reads plain scalars by their look: ``no`` and ``on`` as booleans,
``012`` as the octal 10, ``2026-01-01`` as a date, ``~`` or nothing as null. Where the wire wants
a string (Tags keys and values, Init, LogicalID, an Attachment's ID and Type, and every member
name) such a scalar is refused, naming its path and the value as written; quoting it keeps it
text. ``Properties`` are the plugin's own data and are read as YAML reads them; only values with
no JSON equivalent (a key that is not a string or number, ``.nan``, ``.inf``) are refused, by
path.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .field_paths import render_key

__all__ = ["YAMLSpecError", "load_yaml"]

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_READS_AS = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    _NULL_TAG: "null",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
}
_NULLABLE = frozenset({"Tags", "LogicalID", "Attachments"})
"""Members the wire accepts as ``null`` (Go's empty map, list or absent LogicalID)."""


class YAMLSpecError(ValueError):
    """A YAML document that is not valid YAML, or holds a value the wire cannot take as written."""


def load_yaml(data: bytes, *, spec: bool) -> Any:
    """The YAML document as Python data; ``spec`` checks the strings of a spec document.

    Raises :class:`YAMLSpecError`: its message is the reason, with the path in the form the
    daemon uses for bad params (``Expected `str`, got `no` (...) - at `$.Tags.env```).
    """
    loader = yaml.SafeLoader(data)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if spec:
            _check_spec(loader, root)
        value = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise YAMLSpecError(f"not valid JSON or YAML: {_yaml_reason(exc)}") from None
    finally:
        loader.dispose()
    _check_json_equivalent(value, "$")
    return value


def _check_spec(loader: yaml.SafeLoader, root: Node) -> None:
    if not isinstance(root, MappingNode):
        return  # the spec decoder names what the document is instead
    for key, value in _pairs(loader, root, "$"):
        name = key.value
        path = f"$.{name}"
        if name == "Tags" and isinstance(value, MappingNode):
            for tag_key, tag_value in _pairs(loader, value, path):
                _want_string(tag_value, path + render_key(tag_key.value))
        elif name == "Attachments" and isinstance(value, SequenceNode):
            for index, item in enumerate(value.value):
                if isinstance(item, MappingNode):
                    for member, text in _pairs(loader, item, f"{path}[{index}]"):
                        _want_string(text, f"{path}[{index}].{member.value}")
        elif name in ("Init", "LogicalID"):
            _want_string(value, path, nullable=name in _NULLABLE)


def _pairs(loader: yaml.SafeLoader, mapping: MappingNode, path: str) -> list[tuple[Node, Node]]:
    """The mapping's pairs, merge keys (``<<``) applied, each key checked to be a string."""
    loader.flatten_mapping(mapping)
    for key, _ in mapping.value:
        if not isinstance(key, ScalarNode):
            kind = "map" if isinstance(key, MappingNode) else "list"
            raise YAMLSpecError(f"Expected `str` key, got a {kind} - at `{path}`")
        if key.tag != _STR_TAG:
            raise YAMLSpecError(f"Expected `str` key, got {_written(key)} - at `{path}`")
    return list(mapping.value)


def _want_string(node: Node, path: str, *, nullable: bool = False) -> None:
    if not isinstance(node, ScalarNode) or node.tag == _STR_TAG:
        return  # a map or list where a string is due: the spec decoder names it
    if nullable and node.tag == _NULL_TAG:
        return
    raise YAMLSpecError(f"Expected `str`, got {_written(node)} - at `{path}`")


def _written(node: ScalarNode) -> str:
    shown = f"`{node.value}`" if node.value else "nothing"
    reads_as = _READS_AS.get(node.tag, f"a {node.tag}")
    return f"{shown} (YAML reads it as {reads_as}; quote it to keep it a string)"


def _check_json_equivalent(value: Any, path: str, within: frozenset[int] = frozenset()) -> None:
    """Refuse what JSON cannot hold; ``within`` are the containers on the path (YAML anchors
    can make a document contain itself)."""
    if isinstance(value, dict | list | set):
        if id(value) in within:
            raise YAMLSpecError(f"a YAML value contains itself (an alias) - at `{path}`")
        within = within | {id(value)}
    if isinstance(value, dict):
        for key, member in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int | float):
                raise YAMLSpecError(f"a YAML key has no JSON equivalent: `{key!r}` - at `{path}`")
            _check_json_equivalent(member, path + render_key(str(key)), within)
    elif isinstance(value, list | set):
        for index, item in enumerate(value):
            _check_json_equivalent(item, f"{path}[{index}]", within)
    elif isinstance(value, float) and not math.isfinite(value):
        raise YAMLSpecError(f"a YAML value has no JSON equivalent: `{value}` - at `{path}`")


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())
