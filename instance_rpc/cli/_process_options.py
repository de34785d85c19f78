"""The ``serve`` options of the process backend (its user and its ceilings per instance), and
the keyword options they offer backends (see ``load_backends``: a factory takes those it
accepts; one that no served backend accepts is refused)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

__all__ = ["PROCESS_OPTIONS", "offered_by", "process_options"]

_F = TypeVar("_F", bound=Callable[..., Any])

PROCESS_OPTIONS = ("run_as", "process_max_pids", "process_max_memory", "process_cgroup_parent")
"""The options :func:`process_options` adds, by their parameter (and keyword option) name."""


def process_options(command: _F) -> _F:
    """Add ``--run-as``, ``--process-max-pids``, ``--process-max-memory`` and
    ``--process-cgroup-parent`` to ``serve``."""
    options = [
        click.option(
            "--run-as",
            metavar="USER[:GROUP]",
            help="Run the process backend's instances as this user (names or IDs; its own "
            "supplementary groups). Needs root. Default: the daemon's user.",
        ),
        click.option(
            "--process-max-pids",
            type=click.IntRange(min=1),
            metavar="N",
            help="Most tasks (processes and threads) each process instance may hold "
            "(pids.max of its cgroup v2, or of a cgroup v1 where only v1 has the pids "
            "controller; refused at start-up without either).",
        ),
        click.option(
            "--process-max-memory",
            type=click.IntRange(min=4096),
            metavar="BYTES",
            help="Most memory each process instance may use; past it the kernel kills one of "
            "its processes (cgroup v2 memory.max, or cgroup v1 memory.limit_in_bytes where "
            "only v1 has the memory controller; no swap; refused at start-up without either).",
        ),
        click.option(
            "--process-cgroup-parent",
            metavar="DIR",
            help="cgroup v2 directory to make instances' cgroups in (one without processes, so "
            "that it can give them controllers). Default: the daemon's own cgroup. Ceilings "
            "kept on cgroup v1 use the daemon's own cgroup of that hierarchy, whatever DIR.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def offered_by(options: Mapping[str, Any]) -> dict[str, Any]:
    """The process options given (not ``None``), as keyword options for the backends."""
    return {name: options[name] for name in PROCESS_OPTIONS if options.get(name) is not None}
