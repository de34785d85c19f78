"""The ``file`` backend: each instance is a JSON document in a directory.

- ``dir``: the directory (default ``$XDG_STATE_HOME/instance-rpc/<name>``, else
  ``~/.local/state/instance-rpc/<name>``). Instances survive restarts; writes are atomic and
  durable, and a second daemon on the same directory is refused (see ``plugins/_store.py``).
- IDs are ``file-`` and 16 hex digits. An ID that is not a plain name is refused with an error.
- ``Properties`` must be a JSON object (or absent); they are stored and described byte for byte.
- Provision with a ``LogicalID`` that names an instance in the directory returns that instance's
  ID instead of creating a second one (a Provision retried after a timeout is harmless).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import msgspec

from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ._inventory import Inventory, Record, require_object
from ._store import default_state_dir

__all__ = ["FilePlugin"]


class FilePlugin:
    """Instances as JSON documents in ``dir``. Call :meth:`close` to release the directory."""

    def __init__(self, *, dir: str | os.PathLike[str] | None = None, name: str = "file") -> None:
        directory = default_state_dir(name) if dir is None else dir
        self._inventory = Inventory(directory, Record)

    @property
    def directory(self) -> Path:
        return self._inventory.directory

    def close(self) -> None:
        self._inventory.close()

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-file", version="0.1.0")

    async def validate(self, properties: Properties) -> None:
        require_object(properties)

    async def provision(self, spec: Spec) -> str:
        if spec.properties is not None:
            require_object(spec.properties)
        async with self._inventory.lock:
            if spec.logical_id is not None:
                existing = self._inventory.with_logical_id(spec.logical_id)
                if existing is not None:
                    return existing.ID
            instance_id = self._new_id()
            await self._inventory.put(Record(**Record.fields_of(instance_id, spec)))
        return instance_id

    def _new_id(self) -> str:
        while True:
            candidate = f"file-{secrets.token_hex(8)}"
            if candidate not in self._inventory:
                return candidate

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        async with self._inventory.lock:
            record = self._inventory.get(instance)
            tags = {**record.Tags, **labels}
            await self._inventory.put(msgspec.structs.replace(record, Tags=tags))

    async def destroy(self, instance: str, context: Context) -> None:
        async with self._inventory.lock:
            self._inventory.get(instance)
            await self._inventory.delete(instance)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return [
            record.describe(record.stored_properties() if properties else None)
            for record in self._inventory.matching(tags)
        ]


_: type[Plugin] = FilePlugin  # mypy checks that FilePlugin satisfies the protocol
