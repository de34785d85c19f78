"""Ceilings per instance of the process backend (``--process-max-pids N``,
``--process-max-memory BYTES``), kept by the kernel through the instance's cgroups.

- ``pids``: a ``fork``/``clone`` that would make the cgroup hold more than N tasks fails with
  ``EAGAIN`` (threads count). cgroup v2 and v1 alike: ``pids.max``.
- ``memory``: past it the kernel reclaims, then kills a process of the cgroup (the OOM killer,
  counted in ``memory.events`` on v2, ``memory.oom_control`` on v1). cgroup v2: ``memory.max``,
  and ``memory.swap.max`` 0 where it exists; v1: ``memory.limit_in_bytes``, and
  ``memory.memsw.limit_in_bytes`` the same where it exists; either way swap does not extend it.

Each controller is kept where the host offers it (:func:`place`): on the instance's cgroup v2
when the v2 parent offers it (the daemon enables it in the parent's ``cgroup.subtree_control``
when it is not yet; cgroup v2 refuses that, ``EBUSY``, in a cgroup that holds processes: the
daemon's own does, unless it is the root), else in a cgroup of the instance's own in the
controller's cgroup v1 hierarchy (``plugins/_cgroup_v1.py``). Where neither can be done,
start-up is refused: a ceiling silently not kept is worse than none.
Source: the kernel's Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/{pids,memory}.rst.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NamedTuple

from instance_rpc.errors import PluginError

from . import _cgroup, _cgroup_v1

__all__ = ["Ceilings", "apply", "place"]

_V2_SETTINGS = {"pids": "pids.max", "memory": "memory.max"}


class Ceilings(NamedTuple):
    """``max_pids``: tasks per instance; ``max_memory``: bytes per instance (``None``: none)."""

    max_pids: int | None = None
    max_memory: int | None = None

    def settings(self) -> dict[str, tuple[str, str]]:
        """Per controller: the flag that asked for it and the value."""
        wanted: dict[str, tuple[str, str]] = {}
        if self.max_pids is not None:
            wanted["pids"] = ("--process-max-pids", str(self.max_pids))
        if self.max_memory is not None:
            wanted["memory"] = ("--process-max-memory", str(self.max_memory))
        return wanted


def place(parent: Path | None, ceilings: Ceilings, why_none: str, *, v1: bool) -> dict[str, Path]:
    """Decide where each ceiling is kept: on the instances' cgroups v2 under ``parent``
    (enabling the controller in its ``cgroup.subtree_control`` where needed), else, when
    ``v1`` allows it, under the daemon's own cgroup of the controller's v1 hierarchy.

    ``why_none``: why there is no ``parent``, for the message. Returns the v1 parent directory
    of each controller kept on v1. Raises :class:`~instance_rpc.errors.PluginError`, one line
    naming the flag, the controller, the cgroup and what is missing.
    """
    on_v1: dict[str, Path] = {}
    for controller, (flag, _) in ceilings.settings().items():
        offered = set() if parent is None else _cgroup.controllers(parent)
        if parent is not None and controller in offered:
            _enable(parent, controller, flag)
            continue
        if parent is None:
            wanted = f"{flag} needs a cgroup v2 per instance: {why_none}"
        else:
            wanted = (
                f"{flag} needs the cgroup v2 {controller!r} controller, which {parent} does not "
                f"offer (its cgroup.controllers: {' '.join(sorted(offered)) or 'none'})"
            )
        if not v1:
            raise PluginError(wanted)
        try:
            on_v1[controller] = _cgroup_v1.parent(controller)
        except _cgroup_v1.NotUsable as exc:
            raise PluginError(f"{wanted}, nor a cgroup v1 one: {exc}") from None
    return on_v1


def _enable(parent: Path, controller: str, flag: str) -> None:
    if controller in _cgroup.controllers(parent, "cgroup.subtree_control"):
        return
    try:
        _cgroup.enable(parent, controller)
    except OSError as exc:
        busy = " (it holds processes: give an empty cgroup as the parent)"
        raise PluginError(
            f"{flag}: cannot enable the {controller!r} controller for the cgroups under "
            f"{parent}: {exc.strerror or exc}{busy if exc.errno == errno.EBUSY else ''}"
        ) from None


def apply(cgroup: Path, ceilings: Ceilings, skip: set[str] | frozenset[str] = frozenset()) -> None:
    """Write the ceilings, but those of the controllers in ``skip`` (kept on v1), into a new
    instance's (empty) cgroup v2; raises ``OSError``."""
    for controller, (_, value) in ceilings.settings().items():
        if controller not in skip:
            _cgroup.write(cgroup, _V2_SETTINGS[controller], value)
    swap = cgroup / "memory.swap.max"
    if "memory" not in skip and ceilings.max_memory is not None and os.path.exists(swap):
        _cgroup.write(cgroup, "memory.swap.max", "0")
