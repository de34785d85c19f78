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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from instance_rpc.spi import EncodedDescriber, Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from .store.documents import default_state_dir
from .store.inventory import Inventory, Record, require_object

__all__ = ["FilePlugin"]


class FilePlugin:
    """Instances as JSON documents in ``dir``. Call :meth:`close` to release the directory."""

    properties_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    """Any JSON object, stored as sent (absent Properties: Validate accepts them and Provision
    stores none)."""

    example_properties: ClassVar[dict[str, Any]] = {"image": "web:1.4", "size": "small"}

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

    def instance_count(self) -> int:
        return len(self._inventory)

    async def validate(self, properties: Properties) -> None:
        if properties is not None:  # absent Properties: accepted, as Provision accepts them
            require_object(properties)

    async def provision(self, spec: Spec) -> str:
        if spec.properties is not None:
            require_object(spec.properties)

        async def make(instance_id: str) -> Record:
            return Record(**Record.fields_of(instance_id, spec))

        return await self._inventory.create(spec.logical_id, "file-", make)

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        await self._inventory.merge_tags(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        await self._inventory.destroy(instance, context.reason)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return [
            record.describe(record.stored_properties() if properties else None)
            for record in self._inventory.matching(tags)
        ]

    async def describe_encoded(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> bytes | Iterator[bytes]:
        """What :meth:`describe_instances` answers, as the wire's ``Descriptions`` array (see
        :class:`~instance_rpc.spi.EncodedDescriber`)."""
        return self._inventory.encoded(self._inventory.matching(tags), properties)


_: type[Plugin] = FilePlugin  # mypy checks that FilePlugin satisfies the protocol
__: type[EncodedDescriber] = FilePlugin
