"""Our daemon: ``instance-rpc serve --plugin memory``, otherwise with its defaults (log level info).

Run as ``python -m benchmarks.daemon SOCKET [SERVE OPTIONS...]``. It runs the ``serve`` command
itself, so what the benchmark measures is what users run; it only adds a :class:`GCWatch` whose
figures it prints on SIGUSR1 (see :mod:`benchmarks.process`). ``serve`` prints ``listening on ...``
once ready.
"""

from __future__ import annotations

import sys

from instance_rpc.cli import main

from .gcwatch import report_on_sigusr1

if __name__ == "__main__":
    report_on_sigusr1()
    main(["serve", "--plugin", "memory", "--socket", sys.argv[1], *sys.argv[2:]])
