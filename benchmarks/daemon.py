"""Our daemon as ``instance-rpc serve`` runs it: the memory backend behind the service and server.

Run as ``python -m benchmarks.daemon SOCKET``. It is built from the same library calls as the
``serve`` command, so what the benchmark measures is what users run; only the stdout protocol of
:mod:`benchmarks.process` (readiness line, collector figures on SIGUSR1) is added.
"""

from __future__ import annotations

import sys

from instance_rpc.backends import load_backend
from instance_rpc.server import PluginServer
from instance_rpc.service import InstanceService

from .process import Close, serve


async def _open(socket_path: str) -> Close:
    server = PluginServer(InstanceService({"": load_backend("memory")}), socket_path)
    await server.start()
    return server.close


if __name__ == "__main__":
    serve(lambda: _open(sys.argv[1]))
