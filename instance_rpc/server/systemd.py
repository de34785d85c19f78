"""The two systemd protocols a daemon speaks: sockets passed in, and state notifications out.

- Socket activation, sd_listen_fds(3): the service manager binds the listening sockets and
  passes them from file descriptor 3 on, with ``LISTEN_FDS`` (how many), ``LISTEN_PID`` (the
  process they are meant for) and ``LISTEN_FDNAMES`` (colon-separated names).
- Notifications, sd_notify(3): ``READY=1``, ``STATUS=...``, ``STOPPING=1`` as one datagram to the
  Unix socket named by ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket).

Both work the same under ``systemd-socket-activate`` and any other manager that follows them; both
do nothing when their variables are not set.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass

from ..errors import InstanceRPCError

__all__ = [
    "LISTEN_FDS_START",
    "ActivationError",
    "InheritedSocket",
    "listen_sockets",
    "notify",
]

logger = logging.getLogger("instance_rpc.systemd")

LISTEN_FDS_START = 3
"""The first passed descriptor (SD_LISTEN_FDS_START in sd-daemon.h)."""

_ACTIVATION_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(InstanceRPCError):
    """The passed descriptors cannot be served: a variable is malformed, or a descriptor is not
    a listening stream socket."""


@dataclass(frozen=True)
class InheritedSocket:
    """A listening socket passed in by the service manager, and the name it was given."""

    socket: socket.socket
    name: str

    @property
    def address(self) -> str:
        """The socket's path (Unix) or ``host:port`` (TCP), as it is bound."""
        bound = self.socket.getsockname()
        if self.socket.family == socket.AF_UNIX:
            if isinstance(bound, bytes):  # an abstract socket
                return "@" + bound[1:].decode(errors="replace")
            return str(bound)
        host, port = bound[0], bound[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _socket_at(fd: int, name: str) -> InheritedSocket:
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFD)
        fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)  # not for our children
        inherited = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(f"passed descriptor {fd} ({name}): {exc.strerror or exc}") from None
    try:
        listening = inherited.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        kind = inherited.type
    except OSError as exc:
        inherited.detach()
        raise ActivationError(f"passed descriptor {fd} ({name}): {exc.strerror or exc}") from None
    if kind != socket.SOCK_STREAM or not listening:
        inherited.detach()
        raise ActivationError(
            f"passed descriptor {fd} ({name}) is not a listening stream socket "
            "(ListenStream= in the socket unit, without Accept=yes)"
        )
    return InheritedSocket(inherited, name)


def listen_sockets(
    environ: MutableMapping[str, str] | None = None, *, pid: int | None = None
) -> list[InheritedSocket]:
    """The listening sockets passed to this process (``pid``, default ours), in order.

    Empty when ``LISTEN_FDS`` is unset or ``LISTEN_PID`` names another process (the variables
    were inherited, not meant for us). The variables are removed from ``environ`` (default
    ``os.environ``) either way, so that no child takes the sockets for its own, as
    ``sd_listen_fds(1)`` does. Raises :class:`ActivationError` for a malformed variable or a
    descriptor that is not a listening stream socket.
    """
    env = os.environ if environ is None else environ
    values = {name: env.pop(name, None) for name in _ACTIVATION_VARIABLES}
    listen_pid, listen_fds = values["LISTEN_PID"], values["LISTEN_FDS"]
    if listen_fds is None or listen_pid is None:
        return []
    try:
        meant_for, count = int(listen_pid), int(listen_fds)
    except ValueError:
        raise ActivationError(
            f"LISTEN_PID and LISTEN_FDS must be numbers: {listen_pid!r}, {listen_fds!r}"
        ) from None
    if meant_for != (os.getpid() if pid is None else pid):
        logger.debug("LISTEN_FDS meant for process %d: ignored", meant_for)
        return []
    if count < 0:
        raise ActivationError(f"LISTEN_FDS must not be negative: {count}")
    names = values["LISTEN_FDNAMES"].split(":") if values["LISTEN_FDNAMES"] else []
    found: list[InheritedSocket] = []
    try:
        for index in range(count):
            name = names[index] if index < len(names) else "unknown"
            found.append(_socket_at(LISTEN_FDS_START + index, name))
    except ActivationError:
        for inherited in found:
            inherited.socket.detach()
        raise
    return found


def _notify_address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(state: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Send ``state`` (``"READY=1\\nSTATUS=..."``) to the service manager, as sd_notify(3).

    Returns ``False`` without sending when ``NOTIFY_SOCKET`` (in ``environ``, default
    ``os.environ``) is unset or not a Unix socket address; a send that fails is logged at
    WARNING and also returns ``False``: the daemon serves on either way.
    """
    env = os.environ if environ is None else environ
    target = env.get("NOTIFY_SOCKET")
    if not target:
        return False
    address = _notify_address(target)
    if address is None:
        logger.warning("NOTIFY_SOCKET %r is not a Unix socket address: not notified", target)
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as channel:
        try:
            channel.sendto(state.encode(), socket.MSG_DONTWAIT, address)
        except OSError as exc:
            logger.warning("cannot notify %s: %s", target, exc.strerror or exc)
            return False
    return True
