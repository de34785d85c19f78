"""Where a client connects: a Unix socket, or a plugin on TCP (plain HTTP or HTTPS).

A target is one of
- ``tcp://HOST:PORT`` (plain HTTP), ``https://HOST:PORT`` (TLS), ``http://HOST:PORT``; a path
  after the port names the ``Type`` (``https://h:8443/docker``);
- a socket path (absolute, ``./``-relative, ``~``, or anything that exists);
- a plugin name ``lookup[/type]``: the socket ``lookup`` in the plugins directory, else the URL
  in ``lookup.listen`` there (InfraKit's discovery, see :mod:`instance_rpc.net.listen_files`).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import aiohttp

from ..errors import DiscoveryError, PluginNotFound
from ..net.discovery import PluginName, plugins_dir, resolve
from ..net.listen_files import LISTEN_SUFFIX, read_listen_file
from .delivery import TCPConnector, UnixConnector

__all__ = ["Endpoint", "resolve_endpoint"]

_URL_SCHEMES = {"tcp": "http", "http": "http", "https": "https"}


class Endpoint(NamedTuple):
    """``scheme`` is ``unix``, ``http`` or ``https``; ``address`` a socket path or ``HOST:PORT``."""

    scheme: str
    address: str
    type: str = ""

    @property
    def is_unix(self) -> bool:
        return self.scheme == "unix"

    def display(self) -> str:
        """What errors name: the socket path, or the URL."""
        if self.is_unix:
            return self.address
        return f"{'https' if self.scheme == 'https' else 'tcp'}://{self.address}"

    def base_url(self) -> str:
        """The URL requests go to (the host is ignored on a Unix socket; Go sends "h" too)."""
        return "http://h/" if self.is_unix else f"{self.scheme}://{self.address}/"

    def connector(self, context: ssl.SSLContext | None) -> aiohttp.BaseConnector:
        """A connector for this endpoint; ``context`` is used for HTTPS (default: system CAs)."""
        if self.is_unix:
            return UnixConnector(path=self.address)
        if self.scheme == "https":
            return TCPConnector(ssl=context or ssl.create_default_context())
        return TCPConnector()


def parse_url(url: str, type_name: str = "") -> Endpoint:
    """An :class:`Endpoint` for ``tcp://``, ``http://`` or ``https://`` ``HOST:PORT[/type]``."""
    parts = urlsplit(url.strip())
    scheme = _URL_SCHEMES.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    if scheme is None or not parts.hostname or port is None:
        raise DiscoveryError(f"not a plugin address (want tcp:// or https://HOST:PORT): {url!r}")
    path_type = parts.path.strip("/")
    if "/" in path_type:
        raise DiscoveryError(f"not a plugin address (one type after the port at most): {url!r}")
    return Endpoint(scheme, parts.netloc, path_type or type_name)


def _is_url(target: str) -> bool:
    return target.partition("://")[0] in _URL_SCHEMES and "://" in target


def resolve_endpoint(target: str | os.PathLike[str], *, directory: Path | None = None) -> Endpoint:
    """Resolve a URL, a socket path or a plugin name; raises :class:`DiscoveryError`."""
    if isinstance(target, str) and _is_url(target):
        return parse_url(target)
    try:
        address = resolve(target, directory=directory)
    except PluginNotFound:
        assert isinstance(target, str)  # paths never raise PluginNotFound
        name = PluginName.parse(target)
        where = directory if directory is not None else plugins_dir()
        listen_file = where / (name.lookup + LISTEN_SUFFIX)
        if not listen_file.is_file():
            raise
        try:
            return parse_url(read_listen_file(listen_file), name.type)
        except (ValueError, OSError) as exc:
            raise DiscoveryError(f"plugin {str(name)!r}: {exc}") from None
    return Endpoint("unix", str(address.socket_path), address.type)
