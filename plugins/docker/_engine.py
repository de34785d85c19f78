"""The Docker engine as the ``docker`` backend sees it: a few Engine API calls over aiodocker,
with every failure turned into one :class:`EngineError` line.

Every call has a deadline: ``timeout`` seconds (``serve --docker-engine-timeout``, default
:data:`DEFAULT_ENGINE_TIMEOUT`); a stop gets the container's grace on top, a pull the deadline
between two messages of its progress stream. A call past its deadline is cancelled (its
connection closed, nothing left in flight) and raises an :class:`EngineError` naming the engine.

aiodocker is imported when the first :class:`Engine` is made, so the backend's module imports
without it; a missing aiodocker is :class:`EngineMissing`, naming the extra to install.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from instance_rpc.errors import PluginError

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "DEFAULT_ENGINE_TIMEOUT",
    "Engine",
    "EngineError",
    "EngineMissing",
    "docker_host",
    "label_filters",
]

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
"""The engine's address when neither ``--docker-host`` nor ``DOCKER_HOST`` says otherwise."""

DEFAULT_ENGINE_TIMEOUT = 30.0
"""Seconds an engine call may take (a stop: plus the container's grace) when not configured."""

_T = TypeVar("_T")
_AIODOCKER_CANNOT_CONNECT = 900  # the status aiodocker gives a connection failure


class EngineMissing(PluginError):
    """aiodocker is not installed."""

    FIELDS = ()

    def __init__(self) -> None:
        super().__init__(
            "the docker backend needs aiodocker: install instance-rpc with its docker extra "
            "(pip install '.[docker]' in the clone)"
        )


class EngineError(PluginError):
    """The engine refused a call (``status`` is its HTTP status) or could not be reached
    (``status`` 0)."""

    FIELDS = ("message", "status")

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, data={"engine_status": status})
        self.status = status


def docker_host(url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``url``, else ``$DOCKER_HOST``, else ``unix:///var/run/docker.sock``."""
    env = os.environ if environ is None else environ
    return url or env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def label_filters(labels: Mapping[str, str]) -> dict[str, list[str]]:
    """The Engine API's ``filters`` for containers carrying all ``labels`` (``label=k=v``)."""
    return {"label": [f"{key}={value}" for key, value in labels.items()]}


def split_reference(reference: str) -> tuple[str, str]:
    """``(name, tag)`` of an image reference, ``latest`` when it names none (so a pull never
    asks for every tag of a repository); a digest reference is ``(reference, "")``."""
    if "@" in reference:
        return reference, ""
    name, colon, tag = reference.rpartition(":")
    if colon and "/" not in tag:
        return name, tag
    return reference, "latest"


class Engine:
    """One engine at ``url``; its HTTP session is made on first use, in the running loop.
    ``timeout``: the deadline of each call, in seconds."""

    def __init__(self, url: str, timeout: float = DEFAULT_ENGINE_TIMEOUT) -> None:
        try:
            self._aiodocker: Any = importlib.import_module("aiodocker")
        except ImportError:
            raise EngineMissing() from None
        if not timeout > 0:
            raise ValueError(f"the engine timeout must be positive seconds, not {timeout!r}")
        self.url = url
        self.timeout = float(timeout)
        self.calls = 0
        """Engine API calls made (a pull counts one; an exec one per poll)."""
        self._docker: Any = None

    def _client(self) -> Any:
        if self._docker is None:
            self._docker = self._aiodocker.Docker(url=self.url)
        return self._docker

    async def close(self) -> None:
        docker, self._docker = self._docker, None
        if docker is not None:
            await docker.close()

    async def _call(
        self, what: str, call: Callable[[Any], Awaitable[_T]], extra: float = 0.0
    ) -> _T:
        """Run ``call(client)`` within ``timeout + extra`` seconds; the engine's refusal,
        absence or silence becomes an :class:`EngineError` whose message starts with ``what``."""
        deadline = self.timeout + extra
        self.calls += 1
        scope = asyncio.timeout(deadline)
        try:
            async with scope:
                return await call(self._client())
        except TimeoutError:
            if scope.expired():
                raise self._silent(what, deadline) from None
            raise self._unreachable(what, TimeoutError("timed out")) from None
        except self._aiodocker.DockerError as exc:
            if exc.status == _AIODOCKER_CANNOT_CONNECT:
                raise self._unreachable(what, exc.__context__ or exc) from None
            message = " ".join(str(exc.message).split()) or f"HTTP status {exc.status}"
            raise EngineError(f"{what}: {message}", int(exc.status)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(what, exc) from None

    def _silent(self, what: str, seconds: float) -> EngineError:
        return EngineError(
            f"{what}: docker engine at {self.url} did not answer within {seconds:g} s "
            "(serve --docker-engine-timeout)",
            0,
        )

    def _unreachable(self, what: str, exc: BaseException) -> EngineError:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return EngineError(f"{what}: docker engine at {self.url} is unreachable: {reason}", 0)

    async def ensure_image(self, image: str, pull: str) -> None:
        """Pull ``image`` always, when missing, or never (``pull``: always/missing/never)."""
        if pull != "always":
            try:
                await self._call(f"inspect image {image}", lambda d: d.images.inspect(image))
                return
            except EngineError as exc:
                if exc.status != 404 or pull == "never":
                    raise
        await self.pull(image)

    async def pull(self, image: str) -> None:
        """Pull one tag of ``image`` (``latest`` when it names none). An error inside the
        progress stream raises; the deadline runs between two of the stream's messages."""
        name, tag = split_reference(image)
        what = f"pull image {image}"

        async def pulled(docker: Any) -> None:
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self.timeout) as scope:
                stream = docker.images.pull(name, tag=tag, stream=True, timeout=None)
                async for message in stream:
                    scope.reschedule(loop.time() + self.timeout)
                    error = message.get("error") if isinstance(message, dict) else None
                    if error:
                        raise EngineError(f"{what}: {' '.join(str(error).split())}", 500)

        # the stream's own deadline is the one above: the whole pull may take longer
        await self._call(what, pulled, extra=24 * 3600.0)

    async def create(self, body: dict[str, Any], name: str | None) -> str:
        container = await self._call(
            "create container", lambda d: d.containers.create(body, name=name)
        )
        return str(container.id)

    async def start(self, container_id: str) -> None:
        await self._call(
            f"start container {container_id[:12]}",
            lambda d: d.containers.container(container_id).start(),
        )

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """The container's inspect document; :class:`EngineError` with status 404 if gone."""
        shown: dict[str, Any] = await self._call(
            f"inspect container {container_id[:12]}",
            lambda d: d.containers.container(container_id).show(),
        )
        return shown

    async def list(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every container (running or not) carrying all ``labels``: filtered by the engine.
        One ``GET /containers/json`` (its documents: ``Id``, ``Names``, ``State``, ``Status``,
        ``Created``, ``Labels``, ``ImageID``, ``NetworkSettings``, ...)."""
        filters = label_filters(labels)

        async def listed(docker: Any) -> list[dict[str, Any]]:
            found = await docker.containers.list(all=True, filters=filters)
            return [dict(container._container) for container in found]

        return await self._call("list containers", listed)

    async def stop(self, container_id: str, seconds: int) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after ``seconds``."""
        await self._call(
            f"stop container {container_id[:12]}",
            lambda d: d.containers.container(container_id).stop(t=seconds, timeout=None),
            extra=float(seconds),
        )

    async def rename(self, container_id: str, name: str) -> None:
        await self._call(
            f"rename container {container_id[:12]}",
            lambda d: d.containers.container(container_id).rename(name),
        )

    async def exec_sh(self, container_id: str, script: str) -> int:
        """Run ``/bin/sh -c script`` in the running container (the engine's exec, detached)
        until it ends; its exit status. Each engine call has the deadline, the script none."""
        what = f"exec in container {container_id[:12]}"

        async def started(docker: Any) -> str:
            container = docker.containers.container(container_id)
            execution = await container.exec(["/bin/sh", "-c", script], stdout=False, stderr=False)
            await execution.start(detach=True, timeout=None)
            return str(execution.id)

        exec_id = await self._call(what, started)
        pause = 0.02
        while True:
            shown = await self._call(what, lambda d: d.containers.exec(exec_id).inspect())
            if not shown.get("Running") and shown.get("ExitCode") is not None:
                return int(shown["ExitCode"])
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def remove(self, container_id: str) -> None:
        """Remove the container and its anonymous volumes."""
        await self._call(
            f"remove container {container_id[:12]}",
            lambda d: d.containers.container(container_id).delete(force=True, v=True),
        )

    async def ensure_network(self, name: str, driver: str, internal: bool) -> None:
        """Create the network ``name`` unless the engine has it."""
        try:
            await self._call(f"inspect network {name}", lambda d: d.networks.get(name))
            return
        except EngineError as exc:
            if exc.status != 404:
                raise
        body = {"Name": name, "Driver": driver, "Internal": internal, "CheckDuplicate": True}
        try:
            await self._call(f"create network {name}", lambda d: d.networks.create(body))
        except EngineError as exc:
            if exc.status != 409:  # made meanwhile by someone else: fine
                raise

    async def connect(self, network: str, container_id: str) -> None:
        async def connect(docker: Any) -> None:
            found = await docker.networks.get(network)
            await found.connect({"Container": container_id})

        await self._call(f"connect container {container_id[:12]} to network {network}", connect)

    async def image_labels(self, image_id: str) -> dict[str, str] | None:
        """The labels of image ``image_id`` (``Config.Labels``); None if the engine has no such
        image (removed with ``rmi --force`` while containers use it)."""
        try:
            shown = await self._call(
                f"inspect image {image_id[:19]}", lambda d: d.images.inspect(image_id)
            )
        except EngineError as exc:
            if exc.status == 404:
                return None
            raise
        labels: dict[str, str] = (shown.get("Config") or {}).get("Labels") or {}
        return labels
