"""Starting an instance's Init for the process backend: its cgroup and ceilings, its user, its
environment, its log file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from instance_rpc.errors import PluginError

from . import _cgroup, _cgroup_v1
from ._ceilings import Ceilings, apply
from ._procfs import ProcessIdentity, identity_of
from ._settings import ProcessSettings
from ._user import Account, daemon_account, instance_environment

__all__ = ["V1_REMOVE_SECONDS", "Launcher", "Started", "remove_v1"]

V1_REMOVE_SECONDS = 5.0
"""How long removing an instance's cgroup v1 waits for its last processes to leave."""


class Started(NamedTuple):
    popen: subprocess.Popen[bytes]
    identity: ProcessIdentity | None
    """``None`` if it already ended."""
    cgroup: Path | None
    """Its cgroup v2 (``None``: none)."""
    cgroups_v1: list[Path]
    """Its cgroups v1, one per ceiling kept there (see ``plugins/_cgroup_v1.py``)."""


class Launcher:
    """Starts Inits: in a cgroup v2 under ``cgroup_parent`` (``None``: none) holding
    ``ceilings``, but those of the controllers in ``v1_parents``, which get a cgroup v1 under
    the directory given; as ``run_as`` (``None``: the daemon's user, groups kept)."""

    def __init__(
        self,
        cgroup_parent: Path | None,
        ceilings: Ceilings,
        run_as: Account | None,
        v1_parents: Mapping[str, Path],
    ) -> None:
        self._parent = cgroup_parent
        self._ceilings = ceilings
        self._v1_parents = dict(v1_parents)
        self._account = run_as or daemon_account()
        # Root switches; a daemon that is not root was only allowed its own account.
        switch = run_as is not None and os.geteuid() == 0
        self._user_options: dict[str, Any] = run_as.popen_options() if switch and run_as else {}
        self._default_cwd: str | None = None
        if run_as is not None:
            self._default_cwd = run_as.home if os.path.isdir(run_as.home) else "/"

    def start(
        self, instance_id: str, init: str, settings: ProcessSettings, log_path: Path
    ) -> Started:
        """Start ``init``; raises :class:`~instance_rpc.errors.PluginError` leaving nothing
        behind (no process, cgroup or log file)."""
        cgroup = self._make_cgroup(instance_id)
        try:
            cgroups_v1 = self._make_cgroups_v1(instance_id)
        except BaseException:
            if cgroup is not None:
                _cgroup.remove(cgroup)
            raise
        try:
            popen = self._popen(instance_id, init, settings, log_path, cgroup, cgroups_v1)
        except BaseException:
            log_path.unlink(missing_ok=True)
            if cgroup is not None:
                _cgroup.remove(cgroup)
            remove_v1(cgroups_v1)
            raise
        # Not yet reaped (only Child reaps), so /proc still shows it even if it has ended.
        return Started(popen, identity_of(popen.pid), cgroup, cgroups_v1)

    def _make_cgroup(self, instance_id: str) -> Path | None:
        if self._parent is None:
            return None
        cgroup = _cgroup.make_instance_cgroup(self._parent, instance_id)
        if cgroup is None:
            if set(self._ceilings.settings()) - set(self._v1_parents):
                raise PluginError(f"no cgroup for {instance_id}: its ceilings cannot be kept")
            return None
        try:
            apply(cgroup, self._ceilings, skip=set(self._v1_parents))
        except OSError as exc:
            _cgroup.remove(cgroup)
            raise PluginError(f"cannot set the ceilings of {instance_id}: {exc}") from None
        return cgroup

    def _make_cgroups_v1(self, instance_id: str) -> list[Path]:
        made: list[Path] = []
        settings = self._ceilings.settings()
        try:
            for controller, parent in self._v1_parents.items():
                made.append(_cgroup_v1.make(parent, instance_id))
                _cgroup_v1.write_ceiling(made[-1], controller, settings[controller][1])
        except OSError as exc:
            remove_v1(made)
            raise PluginError(f"cannot set the ceilings of {instance_id}: {exc}") from None
        return made

    def _popen(
        self,
        instance_id: str,
        init: str,
        settings: ProcessSettings,
        log_path: Path,
        cgroup: Path | None,
        cgroups_v1: list[Path],
    ) -> subprocess.Popen[bytes]:
        log_fd = _new_log(log_path)  # the daemon's: the Init gets only the descriptor
        cgroups = ([] if cgroup is None else [cgroup]) + cgroups_v1
        stdin, go = os.pipe() if cgroups else (subprocess.DEVNULL, -1)
        try:
            try:
                popen = subprocess.Popen(
                    _cgroup.enter_command(init) if cgroups else ["/bin/sh", "-c", init],
                    stdin=stdin,
                    stdout=log_fd,
                    stderr=subprocess.STDOUT,
                    cwd=settings.cwd or self._default_cwd,
                    env=instance_environment(instance_id, self._account, settings.env),
                    start_new_session=True,
                    **self._user_options,
                )
            except OSError as exc:
                raise PluginError(f"cannot start /bin/sh for {instance_id}: {exc}") from None
            finally:
                os.close(log_fd)
                if cgroups:
                    os.close(stdin)
            if cgroups:
                _enter(instance_id, popen, cgroups, go)
        finally:
            if cgroups:
                os.close(go)
        return popen


def remove_v1(cgroups_v1: list[Path]) -> None:
    """Remove an instance's cgroups v1 (see :func:`plugins._cgroup_v1.remove`)."""
    for cgroup in cgroups_v1:
        _cgroup_v1.remove(cgroup, V1_REMOVE_SECONDS)


def _enter(instance_id: str, popen: subprocess.Popen[bytes], cgroups: list[Path], go: int) -> None:
    """Move the waiting shell into each of ``cgroups`` (v2 or v1: both take a pid in
    ``cgroup.procs``), then let it run the Init."""
    try:
        for cgroup in cgroups:
            _cgroup.move(cgroup, popen.pid)
        os.write(go, _cgroup.GO)
    except OSError as exc:
        popen.kill()
        popen.wait()
        raise PluginError(f"cannot move {instance_id} into its cgroup: {exc}") from None


_NEW_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
"""An instance's output file is always a new one (the only name in it is the instance's ID)."""


def _new_log(log_path: Path) -> int:
    """A new output file at ``log_path``, opened for appending; an entry already there (an
    earlier instance's log left by a crash, or one planted) is unlinked, a link itself and never
    its target, and never opened."""
    try:
        return os.open(log_path, _NEW_LOG_FLAGS, 0o600)
    except FileExistsError:
        log_path.unlink()
        return os.open(log_path, _NEW_LOG_FLAGS, 0o600)
