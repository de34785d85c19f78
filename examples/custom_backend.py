"""A backend of your own, in a package of your own: the smallest complete example.

A backend is a class with the five async methods of ``instance_rpc.spi.Plugin``. To make
``instance-rpc serve --plugin counter`` find it, declare an entry point in your package's
``pyproject.toml`` and install the package next to instance-rpc::

    [project.entry-points."instance_rpc.plugins"]
    counter = "custom_backend:CounterPlugin"

``serve`` calls the entry point with keyword options: ``dir`` if the callable takes one (the
state directory, ``--dir``), ``name`` if it takes one (the name for its default directory).
Check it with ``instance-rpc conformance instance-counter``, or in your tests with
``instance_rpc.testing.pytest_plugin.conformance_test``.

Run this file to serve it without installing anything: ``python examples/custom_backend.py``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

from instance_rpc import InstanceService, PluginServer
from instance_rpc.discovery import plugins_dir
from instance_rpc.errors import InstanceNotFound, InvalidProperties
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, load_properties


class CounterPlugin:
    """Instances are numbers; nothing is kept after the daemon stops."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._instances: dict[str, Description] = {}

    async def validate(self, properties: Properties) -> None:
        if not isinstance(load_properties(properties), dict):
            raise InvalidProperties("must be a JSON object")

    async def provision(self, spec: Spec) -> str:
        for existing in self._instances.values():  # a retried Provision returns the same ID
            if spec.logical_id is not None and existing.logical_id == spec.logical_id:
                return existing.id
        instance_id = f"counter-{next(self._numbers)}"
        self._instances[instance_id] = Description(
            id=instance_id, logical_id=spec.logical_id, tags=dict(spec.tags), properties={}
        )
        return instance_id

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        if instance not in self._instances:
            raise InstanceNotFound(instance)
        self._instances[instance].tags.update(labels)

    async def destroy(self, instance: str, context: Context) -> None:
        if self._instances.pop(instance, None) is None:
            raise InstanceNotFound(instance)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wanted = (tags or {}).items()
        return [
            Description(
                id=d.id,
                logical_id=d.logical_id,
                tags=dict(d.tags),
                properties=d.properties if properties else None,
            )
            for d in self._instances.values()
            if all(d.tags.get(key) == value for key, value in wanted)
        ]


_: type[Plugin] = CounterPlugin


async def main() -> None:
    path = plugins_dir() / "instance-counter"
    async with PluginServer(InstanceService({"": CounterPlugin()}), path):
        print(f"listening on {path}; Ctrl-C stops it")
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
