"""A backend holding a session it must close on the loop: for the shutdown test of ``serve``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from instance_rpc_plugins.memory import MemoryPlugin

JOURNAL_VARIABLE = "INSTANCE_RPC_TEST_JOURNAL"


class SessionPlugin(MemoryPlugin):
    """Writes to the file named by ``$INSTANCE_RPC_TEST_JOURNAL`` how it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self._journal = Path(os.environ[JOURNAL_VARIABLE])

    async def aclose(self) -> None:
        asyncio.get_running_loop()  # raises unless called on a running loop
        with self._journal.open("a") as journal:
            journal.write("aclose on the loop\n")

    def close(self) -> None:
        with self._journal.open("a") as journal:
            journal.write("close\n")
