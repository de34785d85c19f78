"""Random hex strings for new IDs, read from ``os.urandom`` a block at a time.

``secrets.token_hex`` makes one ``getrandom`` system call per ID, and a system call releases
the GIL: on the event loop, while a writer thread is busy (``plugins/store/write_queue.py``), each
one handed the GIL to that thread and waited to get it back, which cost about 300 µs per
Provision under load instead of 1 µs. Drawing 4 KiB at once makes that one call per 512 IDs;
the bytes are the same kernel randomness ``secrets`` uses.
"""

from __future__ import annotations

import os

__all__ = ["RandomHex"]


class RandomHex:
    """Hex strings of random bytes from ``os.urandom``, read ``block`` bytes at a time. Not
    thread-safe: use one per thread (the backends use theirs on the event loop)."""

    def __init__(self, block: int = 4096) -> None:
        if block < 1:
            raise ValueError("block must be at least 1 byte")
        self._block = block
        self._buffer = b""
        self._position = 0

    def token(self, nbytes: int) -> str:
        """``2 * nbytes`` hex digits of fresh random bytes, as ``secrets.token_hex(nbytes)``."""
        end = self._position + nbytes
        if end > len(self._buffer):
            self._buffer = os.urandom(max(self._block, nbytes))
            self._position, end = 0, nbytes
        token = self._buffer[self._position : end].hex()
        self._position = end
        return token
