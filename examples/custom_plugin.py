"""A third-party Instance backend: each instance is a JSON file in a directory.

Implement the five methods of ``instance_rpc.Plugin``, raise ``PluginError`` (or a subclass) to
refuse a call, and serve it with ``PluginServer``. Blocking file I/O runs in a thread
(``asyncio.to_thread``) so the daemon's event loop stays free.

    python examples/custom_plugin.py /tmp/files.sock --dir /tmp/instances
    instance-rpc conformance /tmp/files.sock      # does it keep the contract?
    instance-rpc provision /tmp/files.sock spec.json
    instance-rpc describe /tmp/files.sock --properties

To make ``instance-rpc serve --plugin files`` find it instead, declare an entry point in your
package's ``pyproject.toml`` and install the package next to instance-rpc::

    [project.entry-points."instance_rpc.plugins"]
    files = "my_package.custom_plugin:FilesPlugin"

``serve`` calls the entry point with keyword options: ``dir`` if the callable takes one (the
state directory, ``--dir``), ``name`` if it takes one.

``properties_type`` and ``example_properties`` declare what Properties hold: the daemon then
refuses Properties that do not fit before the backend is called (naming the field), and
publishes the JSON Schema and the example (``instance-rpc info /tmp/files.sock --schema``).

In your own tests, ``instance_rpc.testing.pytest_plugin.conformance_test`` runs the same checks.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import msgspec

from instance_rpc import (
    Context,
    Description,
    InstanceNotFound,
    InstanceRPCError,
    InstanceService,
    InvalidProperties,
    PluginServer,
    Spec,
    load_properties,
)

NULL = msgspec.Raw(b"null")


class Record(msgspec.Struct):
    """One instance as stored on disk; ``properties`` are the raw JSON the caller sent."""

    id: str
    logical_id: str | None = None
    tags: dict[str, str] = {}
    properties: msgspec.Raw = NULL

    def describe(self, properties: bool) -> Description:
        raw = self.properties if properties and self.properties != NULL else None
        return Description(id=self.id, logical_id=self.logical_id, tags=self.tags, properties=raw)


class FileProperties(msgspec.Struct):
    """What Properties may say to this backend; other members are stored as sent."""

    size: Literal["small", "medium", "large"] = "small"
    owner: str | None = None


class FilesPlugin:
    """Instances as ``<dir>/<ID>.json``: they outlive the daemon. ``dir`` is the keyword
    ``instance-rpc serve`` passes (``--dir``, or its default state directory)."""

    properties_type = FileProperties
    example_properties: ClassVar[dict[str, Any]] = {"size": "medium", "owner": "web-team"}

    def __init__(self, dir: Path | str) -> None:
        self.directory = Path(dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()  # one change at a time: IDs stay unique, labels are not lost

    async def validate(self, properties: object) -> None:
        # The daemon checks FileProperties first; this check is for in-process callers.
        if not isinstance(load_properties(properties), dict):
            raise InvalidProperties("must be a JSON object")

    async def provision(self, spec: Spec) -> str:
        async with self._lock:
            records = await asyncio.to_thread(self._records)
            for record in records:  # a Provision retried with its LogicalID creates nothing new
                if spec.logical_id is not None and record.logical_id == spec.logical_id:
                    return record.id
            new_id = f"file-{secrets.token_hex(6)}"  # never reused, even after a Destroy
            properties = NULL if spec.properties is None else spec.properties
            record = Record(new_id, spec.logical_id, dict(spec.tags), properties)
            await asyncio.to_thread(self._write, record)
            return new_id

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        async with self._lock:
            record = await asyncio.to_thread(self._read, self._path(instance))
            record.tags.update(labels)
            await asyncio.to_thread(self._write, record)

    async def destroy(self, instance: str, context: Context) -> None:
        try:
            await asyncio.to_thread(self._path(instance).unlink)
        except FileNotFoundError:
            raise InstanceNotFound(instance) from None

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wanted = (tags or {}).items()
        records = await asyncio.to_thread(self._records)
        return [
            record.describe(properties)
            for record in records
            if all(record.tags.get(key) == value for key, value in wanted)
        ]

    def _path(self, instance: str) -> Path:
        if not instance or "/" in instance or instance.startswith("."):
            raise InstanceNotFound(instance)
        return self.directory / f"{instance}.json"

    def _read(self, path: Path) -> Record:
        try:
            return msgspec.json.decode(path.read_bytes(), type=Record)
        except FileNotFoundError:
            raise InstanceNotFound(path.stem) from None

    def _records(self) -> list[Record]:
        records = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                records.append(self._read(path))
            except InstanceNotFound:  # destroyed while we were listing
                continue
        return records

    def _write(self, record: Record) -> None:
        temporary = self.directory / f".{record.id}.tmp"
        temporary.write_bytes(msgspec.json.encode(record))
        temporary.replace(self._path(record.id))  # atomic: readers never see half a file


async def serve(socket_path: Path, directory: Path) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with PluginServer(InstanceService({"": FilesPlugin(directory)}), socket_path):
        print(f"listening on {socket_path} (instances in {directory})", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve the files backend (each instance a JSON file) on a Unix socket "
        "until SIGINT or SIGTERM.",
        epilog="examples:\n"
        "  custom_plugin.py /tmp/files.sock --dir /tmp/instances\n"
        "  custom_plugin.py ~/.infrakit/plugins/files    # then: instance-rpc describe files",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("socket", type=Path, help="socket path to listen on")
    parser.add_argument(
        "--dir", type=Path, default=Path("instances"), help="where instances are kept"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.socket, args.dir))
    except (OSError, InstanceRPCError) as exc:
        print(f"custom_plugin: cannot serve on {args.socket}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
