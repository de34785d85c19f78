"""Our daemon: ``instance-rpc serve --plugin memory``, otherwise with its defaults (log level info).

Run as ``python -m benchmarks.daemon SOCKET [--per-record-fsync] [SERVE OPTIONS...]``; a
``--plugin`` among the options replaces ``memory``. ``--per-record-fsync`` turns the file
store's group commit off (one directory ``fsync`` per write, as before it): the baseline of the
durable-writes figure. It runs the ``serve`` command
itself, so what the benchmark measures is what users run; it only adds a :class:`GCWatch` whose
figures it prints on SIGUSR1 (see :mod:`benchmarks.process`). ``serve`` prints ``listening on ...``
once ready.
"""

from __future__ import annotations

import sys

from instance_rpc.cli import main
from instance_rpc_plugins.store.documents import DocumentStore

from .gcwatch import report_on_sigusr1

PER_RECORD_FSYNC = "--per-record-fsync"

if __name__ == "__main__":
    report_on_sigusr1()
    options = sys.argv[2:]
    if PER_RECORD_FSYNC in options:
        options.remove(PER_RECORD_FSYNC)
        # The backends build their stores themselves: change the default they get.
        assert DocumentStore.__init__.__kwdefaults__ is not None
        DocumentStore.__init__.__kwdefaults__["group_commit"] = False
    backend = [] if "--plugin" in options else ["--plugin", "memory"]
    main(["serve", *backend, "--socket", sys.argv[1], *options])
