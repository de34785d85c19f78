"""Starting an instance's Init for the process backend: its cgroup and ceilings, its user, its
environment, its log file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from instance_rpc.errors import PluginError

from . import _cgroup
from ._process_ceilings import Ceilings, apply
from ._process_settings import ProcessSettings
from ._process_user import Account, daemon_account, instance_environment
from ._procfs import ProcessIdentity, identity_of

__all__ = ["Launcher", "Started"]

Started = tuple[subprocess.Popen[bytes], ProcessIdentity | None, Path | None]
"""The Init shell, its identity (``None`` if it already ended), its cgroup (``None``: none)."""


class Launcher:
    """Starts Inits: in a cgroup under ``cgroup_parent`` (``None``: none) holding ``ceilings``,
    as ``run_as`` (``None``: the daemon's user, groups kept)."""

    def __init__(
        self, cgroup_parent: Path | None, ceilings: Ceilings, run_as: Account | None
    ) -> None:
        self._parent = cgroup_parent
        self._ceilings = ceilings
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
            popen = self._popen(instance_id, init, settings, log_path, cgroup)
        except BaseException:
            log_path.unlink(missing_ok=True)
            if cgroup is not None:
                _cgroup.remove(cgroup)
            raise
        # Not yet reaped (only Child reaps), so /proc still shows it even if it has ended.
        return popen, identity_of(popen.pid), cgroup

    def _make_cgroup(self, instance_id: str) -> Path | None:
        if self._parent is None:
            return None
        cgroup = _cgroup.make_instance_cgroup(self._parent, instance_id)
        if cgroup is None:
            if self._ceilings.settings():
                raise PluginError(f"no cgroup for {instance_id}: its ceilings cannot be kept")
            return None
        try:
            apply(cgroup, self._ceilings)
        except OSError as exc:
            _cgroup.remove(cgroup)
            raise PluginError(f"cannot set the ceilings of {instance_id}: {exc}") from None
        return cgroup

    def _popen(
        self,
        instance_id: str,
        init: str,
        settings: ProcessSettings,
        log_path: Path,
        cgroup: Path | None,
    ) -> subprocess.Popen[bytes]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        log_fd = os.open(log_path, flags, 0o600)  # the daemon's: the Init gets only the fd
        stdin, go = os.pipe() if cgroup is not None else (subprocess.DEVNULL, -1)
        try:
            try:
                popen = subprocess.Popen(
                    ["/bin/sh", "-c", init] if cgroup is None else _cgroup.enter_command(init),
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
                if cgroup is not None:
                    os.close(stdin)
            if cgroup is not None:
                _enter(instance_id, popen, cgroup, go)
        finally:
            if cgroup is not None:
                os.close(go)
        return popen


def _enter(instance_id: str, popen: subprocess.Popen[bytes], cgroup: Path, go: int) -> None:
    """Move the waiting shell into ``cgroup``, then let it run the Init."""
    try:
        _cgroup.move(cgroup, popen.pid)
        os.write(go, _cgroup.GO)
    except OSError as exc:
        popen.kill()
        popen.wait()
        raise PluginError(f"cannot move {instance_id} into its cgroup: {exc}") from None
