"""New IDs' random part: hex of fresh kernel randomness, read a block at a time, so a Provision
makes no ``getrandom`` call of its own (see ``plugins/store/random_ids.py``)."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from instance_rpc.types import Spec
from instance_rpc_plugins.file import FilePlugin
from instance_rpc_plugins.store.random_ids import RandomHex


class CountingUrandom:
    """Calls the real ``os.urandom`` and counts the calls and the bytes asked for."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._real = os.urandom

    def __call__(self, size: int) -> bytes:
        self.sizes.append(size)
        return self._real(size)


def test_tokens_are_hex_of_the_asked_length_and_distinct() -> None:
    hexes = RandomHex(block=64)
    tokens = [hexes.token(8) for _ in range(1000)]  # crosses many block boundaries
    assert all(re.fullmatch(r"[0-9a-f]{16}", token) for token in tokens)
    assert len(set(tokens)) == len(tokens)


def test_bytes_are_read_a_block_at_a_time_and_never_handed_out_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urandom = CountingUrandom()
    monkeypatch.setattr(os, "urandom", urandom)
    hexes = RandomHex(block=20)
    tokens = [hexes.token(8) for _ in range(10)]  # 2 per block of 20 bytes, 4 left unused
    assert urandom.sizes == [20] * 5
    assert len(set(tokens)) == 10


def test_a_token_longer_than_the_block_is_whole() -> None:
    hexes = RandomHex(block=4)
    assert re.fullmatch(r"[0-9a-f]{32}", hexes.token(16))
    assert re.fullmatch(r"[0-9a-f]{4}", hexes.token(2))


def test_a_block_must_hold_a_byte() -> None:
    with pytest.raises(ValueError, match="block"):
        RandomHex(block=0)


async def test_provisions_share_one_read_of_randomness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = FilePlugin(dir=tmp_path / "state")
    try:
        urandom = CountingUrandom()
        monkeypatch.setattr(os, "urandom", urandom)
        monkeypatch.setattr(random, "_urandom", urandom)  # what secrets.token_hex reads
        ids = [await plugin.provision(Spec(tags={"n": str(n)})) for n in range(50)]
    finally:
        plugin.close()
    assert all(re.fullmatch(r"file-[0-9a-f]{16}", instance_id) for instance_id in ids)
    assert len(set(ids)) == 50
    assert len(urandom.sizes) <= 1  # one block of 4 KiB serves 512 IDs
