"""What may name a document in a state directory, and where that directory is by default.

Only plain names are instance IDs (:func:`check_instance_id`), so no path built from a caller's
ID can leave the directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from instance_rpc.errors import PluginError

__all__ = ["MAX_ID_LENGTH", "InvalidInstanceID", "check_instance_id", "default_state_dir"]

MAX_ID_LENGTH = 128
"""Longest accepted ID: with the suffixes the store adds it stays far below NAME_MAX (255)."""

_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InvalidInstanceID(PluginError):
    """An ID that is not a plain name, so it cannot name a document."""

    FIELDS = ("instance_id", "reason")

    def __init__(self, instance_id: str, reason: str) -> None:
        shown = instance_id if len(instance_id) <= 40 else instance_id[:40] + "..."
        super().__init__(f"invalid instance ID {shown!r}: {reason}")
        self.instance_id = instance_id
        self.reason = reason


def check_instance_id(instance_id: str) -> str:
    """Return ``instance_id`` if it is a plain name; raise :class:`InvalidInstanceID` if not."""
    if not instance_id:
        raise InvalidInstanceID(instance_id, "must not be empty")
    if len(instance_id) > MAX_ID_LENGTH:
        raise InvalidInstanceID(
            instance_id, f"longer than {MAX_ID_LENGTH} characters ({len(instance_id)})"
        )
    if "\0" in instance_id:
        raise InvalidInstanceID(instance_id, "must not contain NUL")
    if "/" in instance_id or "\\" in instance_id:
        raise InvalidInstanceID(instance_id, "must not contain a path separator")
    if instance_id.startswith("."):
        raise InvalidInstanceID(instance_id, "must not start with '.'")
    if not _PLAIN_ID.fullmatch(instance_id):
        raise InvalidInstanceID(
            instance_id, "may contain only letters A-Z and a-z, digits, '.', '_' and '-'"
        )
    return instance_id


def default_state_dir(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/instance-rpc/<name>``, else ``~/.local/state/instance-rpc/<name>``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME")
    if base and os.path.isabs(base):
        root = Path(base)
    else:
        home = env.get("HOME")
        root = (Path(home) if home else Path.home()) / ".local" / "state"
    return root / "instance-rpc" / name
