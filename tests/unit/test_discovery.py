from __future__ import annotations

import socket
from pathlib import Path

import pytest

from instance_rpc import DiscoveryError, PluginNotFound
from instance_rpc.net.discovery import PluginName, list_plugins, plugins_dir, resolve


def test_plugins_dir_follows_infrakit_conventions() -> None:
    assert plugins_dir({"INFRAKIT_PLUGINS_DIR": "/p", "INFRAKIT_HOME": "/h"}) == Path("/p")
    assert plugins_dir({"INFRAKIT_HOME": "/h", "HOME": "/u"}) == Path("/h/plugins")
    assert plugins_dir({"HOME": "/u"}) == Path("/u/.infrakit/plugins")


@pytest.mark.parametrize(
    ("text", "name"),
    [("local", PluginName("local")), ("local/file", PluginName("local", "file"))],
)
def test_plugin_names(text: str, name: PluginName) -> None:
    assert PluginName.parse(text) == name
    assert str(name) == text


@pytest.mark.parametrize("text", ["", "/x", "a/b/c", "..", "."])
def test_bad_plugin_names(text: str) -> None:
    with pytest.raises(DiscoveryError):
        PluginName.parse(text)


def test_resolve_names_and_paths(sock_dir: Path) -> None:
    (sock_dir / "local").touch()
    assert resolve("local/file", directory=sock_dir) == (sock_dir / "local", "file")
    assert resolve(str(sock_dir / "local")) == (sock_dir / "local", "")
    assert resolve(sock_dir / "whatever") == (sock_dir / "whatever", "")
    with pytest.raises(PluginNotFound, match="no plugin named 'nope/x' in"):
        resolve("nope/x", directory=sock_dir)


def test_list_plugins_lists_sockets_only(sock_dir: Path) -> None:
    assert list_plugins(sock_dir / "missing") == []
    (sock_dir / "not-a-socket").write_text("x")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(sock_dir / "b-plugin"))
        assert list_plugins(sock_dir) == [sock_dir / "b-plugin"]
