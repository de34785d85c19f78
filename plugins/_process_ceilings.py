"""Ceilings per instance of the process backend (``--process-max-pids N``,
``--process-max-memory BYTES``), kept by the kernel through the instance's cgroup v2.

- ``pids.max``: a ``fork``/``clone`` that would make the cgroup hold more than N tasks fails with
  ``EAGAIN`` (threads count).
- ``memory.max``: past it the kernel reclaims, then kills a process of the cgroup (the OOM
  killer, counted in ``memory.events``); ``memory.swap.max`` is set to 0 where it exists, so
  swap does not extend the ceiling.

Both need their controller in the parent's ``cgroup.controllers``; the daemon enables it in the
parent's ``cgroup.subtree_control`` when it is not yet (cgroup v2 refuses that, ``EBUSY``, in a
cgroup that holds processes: the daemon's own does, unless it is the root). Where that cannot be
done, start-up is refused (:func:`check_parent`): a ceiling silently not kept is worse than none.
Source: the kernel's Documentation/admin-guide/cgroup-v2.rst.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NamedTuple

from instance_rpc.errors import PluginError

from . import _cgroup

__all__ = ["Ceilings", "apply", "check_parent"]


class Ceilings(NamedTuple):
    """``max_pids``: tasks per instance; ``max_memory``: bytes per instance (``None``: none)."""

    max_pids: int | None = None
    max_memory: int | None = None

    def settings(self) -> dict[str, tuple[str, str, str]]:
        """Per controller: the flag that asked for it, its interface file and the value."""
        wanted: dict[str, tuple[str, str, str]] = {}
        if self.max_pids is not None:
            wanted["pids"] = ("--process-max-pids", "pids.max", str(self.max_pids))
        if self.max_memory is not None:
            wanted["memory"] = ("--process-max-memory", "memory.max", str(self.max_memory))
        return wanted


def check_parent(parent: Path | None, ceilings: Ceilings, why_none: str) -> None:
    """Make sure the children of ``parent`` get every controller ``ceilings`` need, enabling
    them in its ``cgroup.subtree_control`` where needed.

    ``why_none``: why there is no ``parent``, for the message. Raises
    :class:`~instance_rpc.errors.PluginError`, one line naming the flag, the controller, the
    cgroup and what is missing.
    """
    for controller, (flag, _, _) in ceilings.settings().items():
        if parent is None:
            raise PluginError(f"{flag} needs a cgroup v2 per instance: {why_none}")
        offered = _cgroup.controllers(parent)
        if controller not in offered:
            raise PluginError(
                f"{flag} needs the cgroup v2 {controller!r} controller, which {parent} does not "
                f"offer (its cgroup.controllers: {' '.join(sorted(offered)) or 'none'})"
            )
        if controller in _cgroup.controllers(parent, "cgroup.subtree_control"):
            continue
        try:
            _cgroup.enable(parent, controller)
        except OSError as exc:
            busy = " (it holds processes: give an empty cgroup as the parent)"
            raise PluginError(
                f"{flag}: cannot enable the {controller!r} controller for the cgroups under "
                f"{parent}: {exc.strerror or exc}{busy if exc.errno == errno.EBUSY else ''}"
            ) from None


def apply(cgroup: Path, ceilings: Ceilings) -> None:
    """Write the ceilings into a new instance's (empty) cgroup; raises ``OSError``."""
    for _, name, value in ceilings.settings().values():
        _cgroup.write(cgroup, name, value)
    if ceilings.max_memory is not None and os.path.exists(cgroup / "memory.swap.max"):
        _cgroup.write(cgroup, "memory.swap.max", "0")
