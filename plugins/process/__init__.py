"""The process backend: each instance is a process group started from ``Properties`` (a command,
its environment, its directory), found again after a restart by its cgroup or by the mark in its
processes' environment, and stopped whole (TERM, then KILL) on Destroy.

Imports from the library only ``instance_rpc.spi``, ``types`` and ``errors``, and the shared
store (``instance_rpc_plugins.store``).
"""

from .plugin import CGROUPS_VARIABLE, DESTROYING, EXITED, RUNNING, ProcessPlugin, ProcessRecord

__all__ = ["CGROUPS_VARIABLE", "DESTROYING", "EXITED", "RUNNING", "ProcessPlugin", "ProcessRecord"]
