"""SyncPluginClient: the same client for scripts that do not run an event loop.

Every call is the async :class:`~instance_rpc.client.PluginClient`'s, run on a private event loop
that lives in a thread of its own; so the facade works from any thread, including one where
another event loop is running, and shares all protocol logic with the async client.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from ssl import SSLContext
from types import TracebackType
from typing import Any, TypedDict, TypeVar, Unpack

from ..types import Context, Description, InterfaceSpec, Properties, Spec
from ..wire import PluginInfo
from .plugin_client import PluginClient

__all__ = ["SyncPluginClient"]

_T = TypeVar("_T")


class ClientOptions(TypedDict, total=False):
    """:class:`PluginClient`'s keyword options, which :class:`SyncPluginClient` passes on."""

    type_name: str | None
    timeout: float
    provision_timeout: float
    retries: int
    retry_backoff: float
    plugins_dir: Path | None
    ssl: SSLContext | None


class SyncPluginClient:
    """A blocking Instance client: the methods of :class:`PluginClient`, without ``await``.

    ``with SyncPluginClient("instance-memory") as plugin: plugin.provision(Spec(...))``; or call
    :meth:`close` when done (it stops the client's thread).
    """

    def __init__(self, target: str | os.PathLike[str], **options: Unpack[ClientOptions]) -> None:
        """``target`` and ``options`` (``type_name``, ``timeout``, ``provision_timeout``,
        ``retries``, ``retry_backoff``, ``plugins_dir``, ``ssl``): :class:`PluginClient`'s, with
        its defaults."""
        self._client = PluginClient(target, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"SyncPluginClient {self.address}", daemon=True
        )
        self._thread.start()
        self._closed = False

    @property
    def socket_path(self) -> Path | None:
        """The socket path; ``None`` for a plugin on TCP (see :attr:`address`)."""
        return self._client.socket_path

    @property
    def address(self) -> str:
        """The socket path or URL errors name."""
        return self._client.address

    @property
    def type_name(self) -> str:
        return self._client.type_name

    # --- the Plugin interface, blocking ----------------------------------------------------------

    def validate(self, properties: Properties) -> None:
        self._run(self._client.validate(properties))

    def provision(self, spec: Spec) -> str | None:
        return self._run(self._client.provision(spec))

    def label(self, instance: str, labels: Mapping[str, str]) -> None:
        self._run(self._client.label(instance, labels))

    def destroy(self, instance: str, context: Context) -> None:
        self._run(self._client.destroy(instance, context))

    def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        return self._run(self._client.describe_instances(tags, properties))

    def hello(self) -> dict[InterfaceSpec, list[str]]:
        return self._run(self._client.hello())

    def info(self) -> PluginInfo:
        return self._run(self._client.info())

    def info_json(self) -> bytes:
        return self._run(self._client.info_json())

    def handshake(self) -> InterfaceSpec:
        return self._run(self._client.handshake())

    # --- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection and stop the thread; calling it again does nothing."""
        if self._closed:
            return
        try:
            self._run(self._client.close())
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> SyncPluginClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, call: Coroutine[Any, Any, _T]) -> _T:
        if self._closed:
            call.close()
            raise RuntimeError("SyncPluginClient is closed")
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while waiting: do not leave the call running on the loop.
            future.cancel()
            raise
