"""Who an instance of the process backend runs as (``--run-as USER[:GROUP]``) and the
environment it starts with.

The environment is built from nothing, never copied from the daemon's (which may hold cloud
keys, ``INSTANCE_RPC_TLS_*``, ``NOTIFY_SOCKET``, ``LISTEN_FDS``...)::

    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME=<the user's home>  USER=<name>  LOGNAME=<name>
    ...the Properties' env...
    INSTANCE_RPC_INSTANCE=<ID>

A fixed ``PATH`` (sudo's ``secure_path``) so that what ``sh`` finds does not depend on how the
daemon was started; ``HOME``, ``USER`` and ``LOGNAME`` from the password database, as ``login``
sets them. No locale (``LANG``, ``LC_*``: the POSIX locale, present everywhere) and no ``TERM``
(there is no terminal): the Properties' ``env`` sets them where wanted. The membership marker
comes last, so ``env`` cannot replace it.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping
from typing import Any, NamedTuple

from instance_rpc.errors import PluginError

from ._members import MARKER_VARIABLE

__all__ = ["SAFE_PATH", "Account", "daemon_account", "instance_environment", "parse_run_as"]

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Account(NamedTuple):
    """A user to run instances as: its IDs, supplementary groups, name and home directory."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    home: str

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` keywords that switch to this account (supplementary groups
        replaced by its own)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def _user_entry(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise PluginError(f"--run-as {user}: no such user") from None


def _group_id(group: str, run_as: str) -> int:
    try:
        entry = grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
    except (KeyError, OverflowError):
        raise PluginError(f"--run-as {run_as}: no such group {group!r}") from None
    return entry.gr_gid


def parse_run_as(run_as: str) -> Account:
    """``USER[:GROUP]`` (names or numeric IDs, each in the system's databases) as an Account.

    Without GROUP the user's primary group. Supplementary groups: the user's own
    (``getgrouplist(3)``), never the daemon's. Changing to another account needs root.

    Raises :class:`~instance_rpc.errors.PluginError` naming what is wrong.
    """
    user, _, group = run_as.partition(":")
    if not user or (":" in run_as and not group):
        raise PluginError(f"--run-as {run_as!r}: expected USER or USER:GROUP")
    entry = _user_entry(user)
    gid = _group_id(group, run_as) if group else entry.pw_gid
    account = Account(
        uid=entry.pw_uid,
        gid=gid,
        groups=tuple(sorted(set(os.getgrouplist(entry.pw_name, gid)))),
        name=entry.pw_name,
        home=entry.pw_dir or "/",
    )
    if os.geteuid() != 0 and (account.uid, account.gid) != (os.geteuid(), os.getegid()):
        raise PluginError(
            f"--run-as {run_as}: the daemon runs as uid {os.geteuid()} and cannot change "
            "user or group (that needs root)"
        )
    return account


def daemon_account() -> Account:
    """The daemon's own user, as instances run without ``--run-as`` (its groups kept)."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # an ID without an entry (containers): no name, home /
        return Account(uid, gid, (), "", "/")
    return Account(uid, gid, (), entry.pw_name, entry.pw_dir or "/")


def instance_environment(
    instance_id: str, account: Account, env: Mapping[str, str]
) -> dict[str, str]:
    """The whole environment of an instance's Init (see the module docstring)."""
    base = {"PATH": SAFE_PATH, "HOME": account.home}
    if account.name:
        base.update(USER=account.name, LOGNAME=account.name)
    return {**base, **env, MARKER_VARIABLE: instance_id}
