"""The old import paths of moved modules, kept working.

Until the layout by layer (CHANGELOG.md, "Unreleased") every module of the library sat at the top
of ``instance_rpc/``. Each now lives in the folder of its layer (docs/architecture.md); the old
path in :data:`MOVED` still imports, and gives the very module at its new path (one module object
under two names, so a patch through either reaches both), with a :class:`DeprecationWarning` that
names the new path. One finder on ``sys.meta_path`` does it, instead of a stub module per old name
at the top of the package, which would hide the layers again.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType, ModuleType

__all__ = ["MOVED", "install"]

MOVED: Mapping[str, str] = MappingProxyType(
    {
        "instance_rpc.activation": "instance_rpc.server.activation",
        "instance_rpc.app": "instance_rpc.server.app",
        "instance_rpc.bench": "instance_rpc.testing.bench",
        "instance_rpc.caller_policy": "instance_rpc.server.caller_policy",
        "instance_rpc.collector": "instance_rpc.observability.collector",
        "instance_rpc.connection_limits": "instance_rpc.server.connection_limits",
        "instance_rpc.delivery": "instance_rpc.client.delivery",
        "instance_rpc.discovery": "instance_rpc.net.discovery",
        "instance_rpc.endpoints": "instance_rpc.client.endpoints",
        "instance_rpc.envelope": "instance_rpc.rpc.envelope",
        "instance_rpc.eventloop": "instance_rpc.cli.eventloop",
        "instance_rpc.http_errors": "instance_rpc.server.http_errors",
        "instance_rpc.listen_files": "instance_rpc.net.listen_files",
        "instance_rpc.listeners": "instance_rpc.server.listeners",
        "instance_rpc.log_format": "instance_rpc.observability.log_format",
        "instance_rpc.log_output": "instance_rpc.observability.log_output",
        "instance_rpc.logs": "instance_rpc.observability.logs",
        "instance_rpc.metrics": "instance_rpc.observability.metrics",
        "instance_rpc.observe": "instance_rpc.observability.observe",
        "instance_rpc.open_files": "instance_rpc.server.open_files",
        "instance_rpc.peer_uid": "instance_rpc.server.peer_uid",
        "instance_rpc.protocol": "instance_rpc.rpc.protocol",
        "instance_rpc.remote_access": "instance_rpc.server.remote_access",
        "instance_rpc.responses": "instance_rpc.client.responses",
        "instance_rpc.service": "instance_rpc.rpc.service",
        "instance_rpc.serving": "instance_rpc.server.serving",
        "instance_rpc.streamed_response": "instance_rpc.server.streamed_response",
        "instance_rpc.streaming": "instance_rpc.rpc.streaming",
        "instance_rpc.sync_client": "instance_rpc.client.sync_client",
        "instance_rpc.systemd": "instance_rpc.server.systemd",
        "instance_rpc.tls": "instance_rpc.net.tls",
        "instance_rpc.transport": "instance_rpc.client.transport",
        "instance_rpc.unix_socket": "instance_rpc.server.unix_socket",
    }
)
"""Old module path -> the module's path now."""


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path."""

    def __init__(self, new_name: str) -> None:
        self._new_name = new_name
        self._own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self._new_name}: import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(self._new_name)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system gave the module the old path's spec: give it back its own.
        module.__spec__ = self._own_spec


class _OldPathFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED`, and nothing else."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new_name = MOVED.get(fullname)
        if new_name is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new_name))


def install() -> None:
    """Put the finder of old paths last on ``sys.meta_path`` (once: a second call does nothing)."""
    if not any(isinstance(finder, _OldPathFinder) for finder in sys.meta_path):
        sys.meta_path.append(_OldPathFinder())
