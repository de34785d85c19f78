"""Files the daemon writes never follow a link planted where it writes them."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from instance_rpc.listen_files import ListenFile, read_listen_file
from instance_rpc.unix_socket import set_socket_owner_and_mode

URL = "tcp://127.0.0.1:4321"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    victim.chmod(0o600)
    return victim


def _untouched(victim: Path) -> bool:
    return victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_a_link_at_the_old_predictable_temporary_name_is_never_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    path = plugins / "web.listen"
    (plugins / f".web.listen.{os.getpid()}.tmp").symlink_to(victim)
    ListenFile(path).write(URL)
    assert _untouched(victim)
    assert read_listen_file(path) == URL
    assert stat.S_IMODE(path.lstat().st_mode) == 0o644


def test_a_link_at_the_listen_file_itself_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    path = tmp_path / "web.listen"
    path.symlink_to(victim)
    listen_file = ListenFile(path)
    listen_file.write(URL)
    assert _untouched(victim)
    assert stat.S_ISREG(path.lstat().st_mode)
    assert path.read_text() == URL
    listen_file.remove()
    assert not path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]  # no temporary left


def test_the_socket_mode_is_never_set_through_a_link_planted_after_bind(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    path = tmp_path / "p.sock"
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
        status = path.stat()
        identity = (status.st_dev, status.st_ino)
        path.unlink()
        path.symlink_to(victim)
        with pytest.raises(OSError, match="replaced"):
            set_socket_owner_and_mode(path, identity, None, 0o666)
        assert _untouched(victim)
        path.unlink()
        bound.close()
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
        status = path.stat()
        set_socket_owner_and_mode(path, (status.st_dev, status.st_ino), os.getgid(), 0o660)
        assert stat.S_IMODE(path.lstat().st_mode) == 0o660
