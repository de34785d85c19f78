"""The ``docker`` backend: each instance is a container on a Docker engine.

- The engine: ``docker_host`` (``serve --docker-host URL``), else ``$DOCKER_HOST``, else
  ``unix:///var/run/docker.sock``. Every engine call has a deadline, ``engine_timeout`` seconds
  (``serve --docker-engine-timeout``, default 30); the error names the engine that did not
  answer. aiodocker (the docker extra: ``pip install '.[docker]'``) is imported only when the
  backend is made; without it the backend cannot be made (:class:`EngineMissing`).
- Properties: InfraKit's shape (``Config``, ``HostConfig``, ``NetworkAttachments``, ``Tags``)
  plus ``Pull`` and ``StopTimeout``; see ``_properties.py``.
- IDs are the engine's container IDs; the container's name is the LogicalID when there is one,
  so the engine itself refuses a second container of one LogicalID (a Provision that meets a
  live container of ours by that name returns its ID).
- Init: without ``Config.Cmd`` it is the container's command (``/bin/sh -c INIT``); with one, it
  runs in the started container through the engine's exec (``/bin/sh -c INIT``), and a non-zero
  exit fails the Provision and removes the container.
- Policy: what lets a container reach the host is refused unless allowed (``docker_allow``,
  ``serve --docker-allow``), images only from ``docker_registry`` when given; see ``_policy.py``.
- Labels: the Spec's and Properties' tags, plus bookkeeping labels (``_labels.py``); every call
  sees only containers labelled with this plugin's name, filtered by the engine, and not those
  that inherited the label from their image (``_ownership.py``). Label keeps an overlay in
  ``dir`` (labels of a container cannot change after creation).
- Destroy: committed on the engine, finished in the background (``_teardown.py`` has the
  contract). A container left ``created`` (the engine died between create and start) is never
  described, and removed.
- DescribeInstances: one engine list call, with or without Properties (``_spec.describe_view``).
  Engine errors reach callers as one line (``PluginError``, JSON-RPC -32000).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from instance_rpc.errors import InstanceNotFound, PluginError
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ..store.documents import default_state_dir
from ._engine import DEFAULT_ENGINE_TIMEOUT, Engine, EngineError, docker_host
from ._labels import LOGICAL_ID, OWNER, LabelOverlay, engine_side, refuse_reserved, tags_of
from ._ownership import Ownership
from ._policy import DockerPolicy
from ._properties import EXAMPLE_PROPERTIES, DockerProperties, parse_properties
from ._spec import DEFAULT_STOP_TIMEOUT, container_body, describe_view
from ._teardown import Teardowns, committed

__all__ = ["STOPPING", "DockerPlugin"]

logger = logging.getLogger("instance_rpc_plugins.docker")

STOPPING = "stopping"
"""Kept for imports only: a container being destroyed is no longer described at all."""


class DockerPlugin:
    """Containers on one engine as instances. :meth:`astart` resumes the destroys a previous
    daemon left (the first call does it too); :meth:`aclose` closes the engine session;
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
        docker_engine_timeout: float = DEFAULT_ENGINE_TIMEOUT,
    ) -> None:
        self.owner = name
        self.policy = DockerPolicy(docker_allow, docker_registry)
        self._engine = Engine(_resolve_host(docker_host), docker_engine_timeout)
        self._ownership = Ownership(self._engine, name)
        logger.info("%s", self.policy.describe())
        self._overlay = LabelOverlay(default_state_dir(name) if dir is None else dir)
        self._teardowns = Teardowns(self._engine, self._overlay.forget)
        self._provisioning: dict[str, asyncio.Lock] = {}
        self._creating: set[str] = set()  # containers between create and a finished Provision
        self._started: asyncio.Task[None] | None = None

    @property
    def docker_host(self) -> str:
        return self._engine.url

    @property
    def engine_timeout(self) -> float:
        return self._engine.timeout

    @property
    def engine_calls(self) -> int:
        """Engine API calls this backend made so far (what a Describe costs the engine)."""
        return self._engine.calls

    @property
    def directory(self) -> Path:
        return Path(self._overlay.directory)

    def close(self) -> None:
        self._overlay.close()

    async def astart(self) -> None:
        """Begin, without waiting for it, the start-up sweep: resume the destroys committed
        before (a previous daemon's) and remove the containers a Provision left ``created``.
        Engine errors are logged; every Describe resumes destroys too."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._sweep())

    async def _swept(self) -> None:
        """Until the start-up sweep is over (started now if nothing started it)."""
        await self.astart()
        assert self._started is not None
        await asyncio.shield(self._started)

    async def _sweep(self) -> None:
        try:
            await self._listed({}, sweep_created=True)
        except EngineError as exc:
            logger.warning("start-up: %s", exc.message)

    async def aclose(self) -> None:
        if self._started is not None and not self._started.done():
            self._started.cancel()
        await self._teardowns.aclose()
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
        await self._swept()
        body, networks = container_body(spec, typed, plain, self.owner)
        await self._engine.ensure_image(typed.Config.Image, typed.Pull)
        for network in networks:
            await self._engine.ensure_network(network.name, network.driver, network.internal)
        mode = body["HostConfig"].get("NetworkMode")
        connect = [n.name for n in networks if n.name != mode]
        init = spec.init if spec.init and typed.Config.Cmd is not None else None
        if spec.logical_id is None:
            return await self._create(body, None, connect, init)
        # The engine's unique names are what make one container per LogicalID; the lock only
        # spares this daemon's own concurrent Provisions a round of conflicts.
        lock = self._provisioning.setdefault(spec.logical_id, asyncio.Lock())
        try:
            async with lock:
                deadline = time.monotonic() + self._engine.timeout
                await self._teardowns.wait_logical_id(spec.logical_id, deadline)
                return await self._create_named(body, spec.logical_id, connect, init, deadline)
        finally:
            if not lock.locked():
                self._provisioning.pop(spec.logical_id, None)

    async def _create_named(
        self,
        body: dict[str, Any],
        name: str,
        networks: list[str],
        init: str | None,
        deadline: float,
    ) -> str:
        """Create container ``name``, or return the live one of ours by that name (one left
        ``created`` by a Provision that failed is removed first)."""
        while True:
            try:
                return await self._create(body, name, networks, init)
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
            if state not in ("created", "removing") and not committed(shown):
                return container_id
            if time.monotonic() > deadline:
                raise PluginError(f"{conflict.message}; try again")
            if state == "created" and container_id not in self._creating:
                logger.info("%s: removing %s, left created", name, container_id[:12])
                await self._remove_quietly(container_id)
            else:
                await asyncio.sleep(0.05)

    async def _create(
        self, body: dict[str, Any], name: str | None, networks: list[str], init: str | None
    ) -> str:
        container_id = await self._engine.create(body, name)
        self._creating.add(container_id)
        try:
            for network in networks:
                await self._engine.connect(network, container_id)
            await self._engine.start(container_id)
            if init is not None:
                status = await self._engine.exec_sh(container_id, init)
                if status != 0:
                    raise PluginError(f"Init exited with status {status} (/bin/sh -c Init)")
        except BaseException:
            await self._remove_quietly(container_id)
            raise
        finally:
            self._creating.discard(container_id)
        logger.info("provisioned %s (name %s)", container_id[:12], name or "-")
        return container_id

    async def _remove_quietly(self, container_id: str) -> None:
        try:
            await self._engine.remove(container_id)
        except EngineError as exc:
            if exc.status != 404:
                logger.warning("cannot remove %s: %s", container_id[:12], exc.message)

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
        if committed(await self._ours(instance)):
            raise InstanceNotFound(instance)
        await self._overlay.merge(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        """Commit the container to being destroyed (renamed on the engine) and answer; stop
        and removal go on in the background (``_teardown.py``)."""
        await self._swept()
        shown = await self._ours(instance)
        configured = (shown.get("Config") or {}).get("StopTimeout")
        seconds = DEFAULT_STOP_TIMEOUT if configured is None else int(configured)
        logical_id = _labels(shown).get(LOGICAL_ID)
        if not committed(shown):
            if not await self._teardowns.commit(instance):
                raise InstanceNotFound(instance)
            logger.info("destroying %s, reason: %s", instance[:12], context.reason or "-")
        self._teardowns.start(instance, seconds, logical_id)

    async def _listed(
        self, engine_labels: Mapping[str, str], *, sweep_created: bool = False
    ) -> list[dict[str, Any]]:
        """Our containers the engine lists with these labels (one list call), less those
        committed to a destroy (whose teardown this resumes) and those left ``created``
        (removed at start-up, or once older than twice the engine timeout: a Provision's create
        and start each end within one)."""
        listed = await self._engine.list({**engine_labels, OWNER: self.owner})
        listed = await self._ownership.keep_ours(listed)
        self._teardowns.resume(listed)
        found = []
        stale = time.time() - 2 * self._engine.timeout
        for container in listed:
            if committed(container):
                continue
            if container.get("State") == "created":
                container_id = str(container.get("Id"))
                old = sweep_created or float(container.get("Created") or 0) < stale
                if old and container_id not in self._creating:
                    logger.info("removing %s, left created by a failed Provision", container_id)
                    await self._remove_quietly(container_id)
                continue
            found.append(container)
        return found

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        """One engine list call; the tags the engine's label filter cannot express (keys with
        ``=``, long values, Label's overlay) are matched here."""
        await self.astart()
        wanted = dict(tags or {})
        overlays_before = self._overlay.container_ids()
        listed = await self._listed(engine_side(wanted, self._overlay.keys()))
        if not wanted:  # every container of ours is listed: drop the overlays of the gone ones
            await self._overlay.forget_all(
                overlays_before
                - {str(c["Id"]) for c in listed}
                - {i for i in overlays_before if self._teardowns.running(i)}
            )
        found: list[Description] = []
        for container in listed:
            container_id = str(container["Id"])
            labels = container.get("Labels") or {}
            merged = tags_of(labels, self._overlay.get(container_id))
            if all(merged.get(k) == v for k, v in wanted.items()):
                found.append(
                    Description(
                        id=container_id,
                        logical_id=labels.get(LOGICAL_ID),
                        tags=merged,
                        properties=describe_view(container) if properties else None,
                    )
                )
        return sorted(found)


def _resolve_host(url: str | None) -> str:
    return docker_host(url)


def _labels(shown: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = (shown.get("Config") or {}).get("Labels") or {}
    return labels


_: type[Plugin] = DockerPlugin  # mypy checks that DockerPlugin satisfies the protocol
