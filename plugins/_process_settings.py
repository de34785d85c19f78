"""The ``Properties`` of the ``process`` backend, checked field by field.

    {"env": {"NAME": "value"}, "cwd": "/absolute/dir", "stop_grace_seconds": 10}

Every field is optional; unknown fields are refused, so a typo does not pass silently.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

from instance_rpc.errors import InvalidProperties
from instance_rpc.types import json_kind, load_properties

__all__ = [
    "DEFAULT_STOP_GRACE_SECONDS",
    "MAX_STOP_GRACE_SECONDS",
    "ProcessSettings",
    "parse_settings",
]

DEFAULT_STOP_GRACE_SECONDS = 10.0
MAX_STOP_GRACE_SECONDS = 3600.0
_FIELDS = ("cwd", "env", "stop_grace_seconds")


class ProcessSettings(NamedTuple):
    env: dict[str, str]
    cwd: str | None
    stop_grace_seconds: float


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidProperties(f"env must be an object of strings, got {json_kind(value)}")
    for name, setting in value.items():
        if not name or "=" in name or "\0" in name:
            raise InvalidProperties(f"env: {name!r} is not a variable name (empty, '=' or NUL)")
        if not isinstance(setting, str):
            raise InvalidProperties(f"env.{name} must be a string, got {json_kind(setting)}")
        if "\0" in setting:
            raise InvalidProperties(f"env.{name} must not contain NUL")
    return dict(value)


def _cwd(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidProperties(f"cwd must be a string, got {json_kind(value)}")
    if "\0" in value or not os.path.isabs(value):
        raise InvalidProperties(f"cwd must be an absolute path, got {value!r}")
    if not os.path.isdir(value):
        raise InvalidProperties(f"cwd {value!r} is not a directory")
    return value


def _grace(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_STOP_GRACE_SECONDS
    ):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = value if number else json_kind(value)
        raise InvalidProperties(
            f"stop_grace_seconds must be a number from 0 to {MAX_STOP_GRACE_SECONDS:g}, got {shown}"
        )
    return float(value)


def parse_settings(properties: Any) -> ProcessSettings:
    """The settings in ``properties`` (raw or decoded; absent means all defaults)."""
    value = load_properties(properties)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidProperties(f"must be a JSON object, got {json_kind(value)}")
    unknown = sorted(set(value) - set(_FIELDS))
    if unknown:
        raise InvalidProperties(f"unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    return ProcessSettings(
        env=_env(value["env"]) if "env" in value else {},
        cwd=_cwd(value["cwd"]) if "cwd" in value else None,
        stop_grace_seconds=(
            _grace(value["stop_grace_seconds"])
            if "stop_grace_seconds" in value
            else DEFAULT_STOP_GRACE_SECONDS
        ),
    )
