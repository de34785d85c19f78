"""The ``docker`` backend: each instance is a container on a Docker engine.

- The engine: ``docker_host`` (``serve --docker-host URL``), else ``$DOCKER_HOST``, else
  ``unix:///var/run/docker.sock``. aiodocker (``pip install 'instance-rpc[docker]'``) is imported
  only when the backend is made; without it the backend cannot be made (:class:`EngineMissing`).
- Properties: InfraKit's shape (``Config``, ``HostConfig``, ``NetworkAttachments``, ``Tags``)
  plus ``Pull`` and ``StopTimeout``; see ``plugins/_docker_properties.py``.
- IDs are the engine's container IDs; the container's name is the LogicalID when there is one,
  so the engine itself refuses a second container of one LogicalID (a Provision that meets a
  live container of ours by that name returns its ID; one being destroyed is waited for, then
  replaced).
- Policy: what lets a container reach the host is refused unless allowed (``docker_allow``,
  ``serve --docker-allow``), images only from ``docker_registry`` when given; see
  ``plugins/_docker_policy.py``.
- Labels: the Spec's and Properties' tags, plus bookkeeping labels (``plugins/_docker_labels.py``);
  every call sees only containers labelled with this plugin's name, filtered by the engine, and
  not those that inherited the label from their image (``plugins/_docker_ownership.py``).
- Label keeps an overlay in ``dir`` (labels of a container cannot change after creation).
- Destroy: stop (SIGTERM, SIGKILL after ``StopTimeout`` seconds), then remove with anonymous
  volumes. Engine errors reach callers as one line (``PluginError``, JSON-RPC -32000).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from instance_rpc.errors import InstanceNotFound, PluginError
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ._docker_engine import Engine, EngineError, docker_host
from ._docker_labels import LOGICAL_ID, OWNER, LabelOverlay, refuse_reserved, tags_of
from ._docker_ownership import Ownership
from ._docker_policy import DockerPolicy
from ._docker_properties import EXAMPLE_PROPERTIES, DockerProperties, parse_properties
from ._docker_spec import container_body, describe_view
from ._store import default_state_dir

__all__ = ["DockerPlugin"]

logger = logging.getLogger(__name__)

STOPPING = "stopping"
"""``Properties.state`` of a container while a Destroy of it runs."""

_GONE_WAIT_SECONDS = 60.0  # a container the engine is removing, or another daemon destroys
_POLL_SECONDS = 0.05
_INSPECT_CONCURRENCY = 8


class DockerPlugin:
    """Containers on one engine as instances. :meth:`aclose` closes the engine session;
    :meth:`close` releases the state directory."""

    properties_type: ClassVar[type[DockerProperties]] = DockerProperties
    """The Properties' type (a msgspec Struct): what validation, schemas and examples use."""

    example_properties: ClassVar[dict[str, Any]] = EXAMPLE_PROPERTIES

    def __init__(
        self,
        *,
        dir: str | os.PathLike[str] | None = None,
        name: str = "docker",
        docker_host: str | None = None,
        docker_allow: Iterable[str] = (),
        docker_registry: Iterable[str] = (),
    ) -> None:
        self.owner = name
        self.policy = DockerPolicy(docker_allow, docker_registry)
        self._engine = Engine(_resolve_host(docker_host))
        self._ownership = Ownership(self._engine, name)
        logger.info("%s", self.policy.describe())
        self._overlay = LabelOverlay(default_state_dir(name) if dir is None else dir)
        self._dying: dict[str, asyncio.Event] = {}
        self._provisioning: dict[str, asyncio.Lock] = {}

    @property
    def docker_host(self) -> str:
        return self._engine.url

    @property
    def directory(self) -> Path:
        return Path(self._overlay.directory)

    def close(self) -> None:
        self._overlay.close()

    async def aclose(self) -> None:
        await self._engine.close()
        self.close()

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-docker", version="0.1.0")

    async def validate(self, properties: Properties) -> None:
        typed, plain = parse_properties(properties)
        refuse_reserved((typed.Tags or {}).keys(), "Properties.Tags")
        self.policy.check_properties(plain)

    async def provision(self, spec: Spec) -> str:
        typed, plain = parse_properties(spec.properties)
        refuse_reserved((typed.Tags or {}).keys(), "Properties.Tags")
        refuse_reserved(spec.tags.keys(), "Spec.Tags")
        self.policy.check_properties(plain)
        self.policy.check_spec(spec)
        body, networks = container_body(spec, typed, plain, self.owner)
        await self._engine.ensure_image(typed.Config.Image, typed.Pull)
        for network in networks:
            await self._engine.ensure_network(network.name, network.driver, network.internal)
        mode = body["HostConfig"].get("NetworkMode")
        connect = [n.name for n in networks if n.name != mode]
        if spec.logical_id is None:
            return await self._create(body, None, connect)
        # The engine's unique names are what make one container per LogicalID; the lock only
        # spares this daemon's own concurrent Provisions a round of conflicts.
        lock = self._provisioning.setdefault(spec.logical_id, asyncio.Lock())
        try:
            async with lock:
                return await self._create_named(body, spec.logical_id, connect)
        finally:
            if not lock.locked():
                self._provisioning.pop(spec.logical_id, None)

    async def _create_named(self, body: dict[str, Any], name: str, networks: list[str]) -> str:
        """Create container ``name``, or return the live one of ours by that name."""
        deadline = time.monotonic() + _GONE_WAIT_SECONDS
        while True:
            try:
                return await self._create(body, name, networks)
            except EngineError as exc:
                if exc.status != 409:
                    raise
                conflict = exc
            try:
                shown = await self._engine.inspect(name)
            except EngineError as exc:
                if exc.status == 404:
                    continue  # removed since the conflict: create again
                raise
            if not await self._ownership.owns(_labels(shown), shown.get("Image")):
                raise PluginError(f"{conflict.message} (the container is not this plugin's)")
            container_id = str(shown["Id"])
            state = (shown.get("State") or {}).get("Status")
            if container_id not in self._dying and state != "removing":
                return container_id
            logger.info("%s: waiting for %s to be destroyed", name, container_id[:12])
            await self._gone(container_id, deadline)

    async def _create(self, body: dict[str, Any], name: str | None, networks: list[str]) -> str:
        container_id = await self._engine.create(body, name)
        try:
            for network in networks:
                await self._engine.connect(network, container_id)
            await self._engine.start(container_id)
        except BaseException:
            try:
                await self._engine.remove(container_id)
            except EngineError as exc:
                logger.warning("cannot remove %s after a failed start: %s", container_id, exc)
            raise
        logger.info("provisioned %s (name %s)", container_id[:12], name or "-")
        return container_id

    async def _gone(self, container_id: str, deadline: float) -> None:
        """Wait until the engine no longer has the container (bounded by ``deadline``)."""
        dying = self._dying.get(container_id)
        if dying is not None:
            remaining = max(0.0, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dying.wait(), remaining)
        while time.monotonic() < deadline:
            try:
                await self._engine.inspect(container_id)
            except EngineError as exc:
                if exc.status == 404:
                    return
                raise
            await asyncio.sleep(_POLL_SECONDS)
        raise PluginError(f"container {container_id[:12]} is still being destroyed; try again")

    async def _ours(self, instance: str) -> dict[str, Any]:
        """The inspected container ``instance`` if it is ours; :class:`InstanceNotFound` if not."""
        if not instance or "/" in instance:
            raise InstanceNotFound(instance)
        try:
            shown = await self._engine.inspect(instance)
        except EngineError as exc:
            if exc.status == 404:
                raise InstanceNotFound(instance) from None
            raise
        if shown.get("Id") != instance:
            raise InstanceNotFound(instance)
        if not await self._ownership.owns(_labels(shown), shown.get("Image")):
            raise InstanceNotFound(instance)
        return shown

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        refuse_reserved(labels.keys(), "Label")
        await self._ours(instance)
        await self._overlay.merge(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        shown = await self._ours(instance)
        if instance in self._dying:
            await self._gone(instance, time.monotonic() + _GONE_WAIT_SECONDS)
            raise InstanceNotFound(instance)
        seconds = int((shown.get("Config") or {}).get("StopTimeout") or 10)
        logger.info("destroying %s, reason: %s", instance[:12], context.reason or "-")
        done = self._dying[instance] = asyncio.Event()
        try:
            await self._stop_and_remove(instance, seconds)
            await self._overlay.forget(instance)
        finally:
            del self._dying[instance]
            done.set()

    async def _stop_and_remove(self, instance: str, seconds: int) -> None:
        try:
            await self._engine.stop(instance, seconds)
        except EngineError as exc:
            if exc.status not in (304, 404):  # 304: not running
                raise
        try:
            await self._engine.remove(instance)
        except EngineError as exc:
            if exc.status == 409:  # already being removed (AutoRemove): wait for it
                await self._gone(instance, time.monotonic() + _GONE_WAIT_SECONDS)
            elif exc.status != 404:
                raise

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wanted = dict(tags or {})
        overlaid = self._overlay.keys()
        engine_side = {k: v for k, v in wanted.items() if k not in overlaid}
        overlays_before = self._overlay.container_ids()
        listed = await self._engine.list({**engine_side, OWNER: self.owner})
        listed = await self._ownership.keep_ours(listed)
        if not wanted:  # every container of ours is listed: drop the overlays of the gone ones
            await self._overlay.forget_all(overlays_before - {str(c["Id"]) for c in listed})
        found: list[Description] = []
        for container in listed:
            container_id = str(container["Id"])
            labels = container.get("Labels") or {}
            merged = tags_of(labels, self._overlay.get(container_id))
            if all(merged.get(k) == v for k, v in wanted.items()):
                logical_id = labels.get(LOGICAL_ID)
                found.append(Description(id=container_id, logical_id=logical_id, tags=merged))
        if properties:
            found = await self._with_properties(found)
        return sorted(found)

    async def _with_properties(self, found: list[Description]) -> list[Description]:
        limit = asyncio.Semaphore(_INSPECT_CONCURRENCY)

        async def described(description: Description) -> Description | None:
            async with limit:
                try:
                    shown = await self._engine.inspect(description.id)
                except EngineError as exc:
                    if exc.status == 404:
                        return None  # removed since it was listed
                    raise
            state = STOPPING if description.id in self._dying else None
            description.properties = describe_view(shown, state)
            return description

        results = await asyncio.gather(*(described(d) for d in found))
        return [d for d in results if d is not None]


def _resolve_host(url: str | None) -> str:
    return docker_host(url)


def _labels(shown: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = (shown.get("Config") or {}).get("Labels") or {}
    return labels


_: type[Plugin] = DockerPlugin  # mypy checks that DockerPlugin satisfies the protocol
