"""PluginClient: a remote Instance plugin that callers use exactly like a local one.

The typed proxy: one short method per wire method, in the order of
:class:`~instance_rpc.rpc.service.InstanceService`'s (InfraKit pkg/rpc/instance client.go mirrors
service.go the same way); each builds the wire params and makes one call through the
:class:`~instance_rpc.client.transport.Transport`, which owns connections, timeouts and retries;
:meth:`PluginClient.call` frames the JSON-RPC request and reads the answer.
The handshake runs once, lazily, before the first Instance call: ``Handshake.Hello`` (0.6.1-era
plugins), falling back to ``Handshake.Implements`` (0.6.0-era).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import jsonrpcclient
import msgspec

from .. import handshake
from ..errors import METHOD_NOT_FOUND, SERVER_ERROR, BadResponse, RPCError
from ..observability import collector
from ..observability.logs import redact
from ..spi import INTERFACE, Plugin
from ..types import Context, Description, InterfaceSpec, Properties, Spec, encode_properties
from ..wire import (
    NULL,
    DescribeParams,
    DescribeResult,
    DestroyParams,
    EmptyParams,
    HelloResult,
    ImplementsResult,
    LabelParams,
    OKResult,
    PluginInfo,
    ProvisionParams,
    ProvisionResult,
    TypesResult,
    ValidateParams,
    WireContext,
    WireDescription,
    WireSpec,
)
from .endpoints import Endpoint, resolve_endpoint
from .responses import decode_response
from .transport import DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, Transport

__all__ = [
    "DEFAULT_PROVISION_TIMEOUT",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_TIMEOUT",
    "PluginClient",
]

DEFAULT_PROVISION_TIMEOUT = 600.0
"""Seconds to wait for Provision: creating real infrastructure can take minutes."""

_LARGE_ANSWER = 1 << 20
"""Bytes from which decoding an answer is worth pausing the cyclic collector for."""

_R = TypeVar("_R", bound=msgspec.Struct)
_T = TypeVar("_T")
_ENCODER = msgspec.json.Encoder()

logger = logging.getLogger("instance_rpc.client")


class PluginClient:
    """An Instance plugin reached over its socket or TCP; a :class:`~instance_rpc.spi.Plugin` too.

    ``target`` is a socket path, a plugin name ``lookup[/type]`` from the plugins directory
    (a socket, or a ``lookup.listen`` file naming a TCP address), or ``tcp://HOST:PORT`` /
    ``https://HOST:PORT``. ``ssl``: the TLS context for HTTPS (see
    :func:`instance_rpc.net.tls.client_context`; default: the system's CAs, no client certificate).
    Use it as an async context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        type_name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        provision_timeout: float = DEFAULT_PROVISION_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        plugins_dir: Path | None = None,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        endpoint = resolve_endpoint(target, directory=plugins_dir)
        self._transport = Transport(endpoint, ssl=ssl)
        self.endpoint: Endpoint = endpoint
        self.address = self._transport.address
        """The socket path or URL errors name."""
        self.socket_path = self._transport.socket_path
        self.type_name = endpoint.type if type_name is None else type_name
        self.timeout = timeout
        self.provision_timeout = provision_timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self._ids = itertools.count(1)
        self._interface: InterfaceSpec | None = None
        self._handshake_lock = asyncio.Lock()

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> PluginClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    # --- the Plugin interface, in InstanceService's order ---------------------------------------

    async def validate(self, properties: Properties) -> None:
        raw = encode_properties(properties)
        params = ValidateParams(Type=self.type_name, Properties=NULL if raw is None else raw)
        await self._instance_call("Instance.Validate", params, OKResult, idempotent=True)

    async def provision(self, spec: Spec) -> str | None:
        params = ProvisionParams(Type=self.type_name, Spec=WireSpec.from_spec(spec))
        result = await self._instance_call(
            "Instance.Provision",
            params,
            ProvisionResult,
            timeout=self.provision_timeout,
            idempotent=spec.logical_id is not None,  # the plugin returns the live instance
        )
        return result.ID

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        params = LabelParams(Type=self.type_name, Instance=instance, Labels=dict(labels))
        await self._instance_call("Instance.Label", params, OKResult)

    async def destroy(self, instance: str, context: Context) -> None:
        wire_context = WireContext(Reason=context.reason)
        params = DestroyParams(Type=self.type_name, Instance=instance, Context=wire_context)
        await self._instance_call("Instance.Destroy", params, OKResult)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wire_tags = None if tags is None else dict(tags)
        params = DescribeParams(Type=self.type_name, Tags=wire_tags, Properties=properties)
        result = await self._instance_call(
            "Instance.DescribeInstances", params, DescribeResult, idempotent=True
        )
        wires = result.Descriptions or []
        with collector.paused(len(wires) >= collector.LARGE):
            return WireDescription.to_descriptions(wires)

    # --- discovery of the plugin ---------------------------------------------------------------

    async def hello(self) -> dict[InterfaceSpec, list[str]]:
        """The interfaces the plugin serves, each with its type names (``"."`` is the default).

        Asks ``Handshake.Hello``; a 0.6.0-era plugin is asked ``Implements`` and ``Types``.
        """
        hello = await self._hello_or_none()
        if hello is not None:
            return {
                InterfaceSpec.decode(key): [obj.Name for obj in objects]
                for key, objects in (hello.Objects or {}).items()
            }
        implements = await self.call("Handshake.Implements", EmptyParams(), ImplementsResult)
        types = await self.call("Handshake.Types", EmptyParams(), TypesResult)
        listed = types.Types or {}
        return {
            spec: listed.get(spec.encode(), []) for spec in handshake.offered_interfaces(implements)
        }

    async def info(self) -> PluginInfo:
        """The plugin's spec document (``GET /info/api.json``)."""
        return self._parse_info(await self._fetch_info())

    async def info_json(self) -> bytes:
        """The spec document exactly as the plugin serves it (members we do not model too)."""
        body = await self._fetch_info()
        self._parse_info(body)  # refuse what is not a spec document
        return body

    async def _fetch_info(self) -> bytes:
        return await self._transport.get("info/api.json", self.timeout, "info")

    def _parse_info(self, body: bytes) -> PluginInfo:
        try:
            return msgspec.json.decode(body, type=PluginInfo)
        except msgspec.DecodeError as exc:
            raise BadResponse(f"{self.address}: /info/api.json is not a spec: {exc}") from None

    async def handshake(self) -> InterfaceSpec:
        """Check (once) that the plugin speaks a compatible ``Instance``; return what it offers."""
        async with self._handshake_lock:
            if self._interface is None:
                hello = await self._hello_or_none()
                result: HelloResult | ImplementsResult
                if hello is not None:
                    result = hello
                else:
                    result = await self.call(
                        "Handshake.Implements", EmptyParams(), ImplementsResult
                    )
                try:
                    offered = handshake.offered_interfaces(result)
                except ValueError as exc:
                    raise BadResponse(f"{self.address}: bad handshake: {exc}") from None
                self._interface = handshake.check_compatible(offered, INTERFACE)
            return self._interface

    async def _hello_or_none(self) -> HelloResult | None:
        try:
            return await self._retrying(
                lambda: self.call("Handshake.Hello", EmptyParams(), HelloResult), idempotent=True
            )
        except RPCError as exc:
            # 0.6.0-era plugins lack Hello: Go servers say so with -32000, others with -32601.
            if exc.code in (METHOD_NOT_FOUND, SERVER_ERROR):
                return None
            raise

    # --- calls ---------------------------------------------------------------------------------

    def _instance_call(
        self,
        method: str,
        params: msgspec.Struct,
        result_type: type[_R],
        *,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> Awaitable[_R]:
        """The call's result (await it), after the handshake when it is still to be done."""
        attempt = functools.partial(self.call, method, params, result_type, timeout=timeout)
        if self._interface is None:  # the lock is only needed until the handshake is done
            return self._after_handshake(attempt, idempotent)
        return self._retrying(attempt, idempotent=idempotent)

    async def _after_handshake(self, attempt: Callable[[], Awaitable[_R]], idempotent: bool) -> _R:
        await self.handshake()
        return await self._retrying(attempt, idempotent=idempotent)

    def _retrying(self, attempt: Callable[[], Awaitable[_T]], *, idempotent: bool) -> Awaitable[_T]:
        return self._transport.retrying(
            attempt, idempotent=idempotent, retries=self.retries, retry_backoff=self.retry_backoff
        )

    async def call(
        self,
        method: str,
        params: msgspec.Struct,
        result_type: type[_R],
        *,
        timeout: float | None = None,
    ) -> _R:
        """Send one JSON-RPC request and decode its result; raise the error it answers with.

        Requests are built with jsonrpcclient and encoded with msgspec; answers are read as Go
        clients read them (:mod:`.responses`), so ``Properties`` stay raw JSON.
        """
        # jsonrpcclient accepts any mapping-like params; a Struct encodes as the Go object.
        request = jsonrpcclient.request(method, params=cast(Any, params), id=next(self._ids))
        body = _ENCODER.encode(request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s", redact(body.decode(errors="replace")))
        seconds = self.timeout if timeout is None else timeout
        answer = await self._transport.post(body, seconds, method)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<- %s", redact(answer.decode(errors="replace")))
        if len(answer) < _LARGE_ANSWER:
            return decode_response(method, answer, result_type)
        with collector.paused():
            return decode_response(method, answer, result_type)


_: type[Plugin] = PluginClient  # mypy checks that the client is a Plugin
