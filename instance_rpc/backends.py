"""Backends by name: the entry point group ``instance_rpc.plugins``.

A third-party package ships a backend by declaring, in its ``pyproject.toml``::

    [project.entry-points."instance_rpc.plugins"]
    mycloud = "mycloud_plugin:MyCloudPlugin"

and ``instance-rpc serve --plugin mycloud`` loads it. The entry point names a callable (usually the
class) that takes keyword options and returns a :class:`~instance_rpc.spi.Plugin`. While developing,
``--plugin package.module:Class`` loads a backend that is not registered yet.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from .errors import InstanceRPCError
from .spi import Plugin

__all__ = [
    "ENTRY_POINT_GROUP",
    "UnknownBackend",
    "available_backends",
    "backend_factory",
    "load_backend",
]

ENTRY_POINT_GROUP = "instance_rpc.plugins"

# Shipped backends, found even when the package runs from a source tree (no entry points).
_BUILTIN: dict[str, str] = {
    "docker": "instance_rpc_plugins.docker.plugin:DockerPlugin",
    "file": "instance_rpc_plugins.file:FilePlugin",
    "memory": "instance_rpc_plugins.memory:MemoryPlugin",
    "process": "instance_rpc_plugins.process.plugin:ProcessPlugin",
}

BackendFactory = Callable[..., Plugin]


class UnknownBackend(InstanceRPCError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown backend {name!r}; available: {', '.join(known) or 'none'}")
        self.name = name


def _targets() -> dict[str, str]:
    found = dict(_BUILTIN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found[point.name] = point.value
    return found


def available_backends() -> list[str]:
    """Names ``--plugin`` accepts."""
    return sorted(_targets())


def _import(target: str) -> BackendFactory:
    module_name, _, attribute = target.partition(":")
    factory: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        factory = getattr(factory, part)
    if not callable(factory):
        raise InstanceRPCError(f"backend entry point {target!r} is not callable")
    return factory  # type: ignore[no-any-return]


def backend_factory(name: str) -> BackendFactory:
    """The callable registered as ``name`` (it makes the backend from keyword options)."""
    targets = _targets()
    target = targets.get(name)
    if target is None and ":" in name:
        target = name
    if target is None:
        raise UnknownBackend(name, sorted(targets))
    try:
        return _import(target)
    except (ImportError, AttributeError) as exc:
        raise InstanceRPCError(f"cannot load backend {name!r} ({target}): {exc}") from None


def load_backend(name: str, **options: Any) -> Plugin:
    """Create the backend registered as ``name`` with ``options``."""
    return backend_factory(name)(**options)
