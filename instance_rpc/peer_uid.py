"""Which local user is at the other end of a loopback TCP connection, read from ``/proc/net``.

A Unix socket's file mode says who may connect; a TCP port admits every local user. The kernel
lists every TCP socket of the network namespace in ``/proc/net/tcp`` (IPv4) and
``/proc/net/tcp6`` (IPv6) with the uid that owns it (``proc(5)``; Linux
``net/ipv4/tcp_ipv4.c``, ``get_tcp4_sock``): the caller's end of a loopback connection is the
row whose local address is our peer's and whose remote address is ours.

A socket its process has closed (an orphan, or a ``TIME_WAIT`` row) is listed with uid 0 and
inode 0: its owner is no longer known, so such a row names nobody (``None``), never root.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

__all__ = ["PROC_NET", "peer_uid", "proc_address"]

PROC_NET = Path("/proc/net")
"""Where the kernel lists the sockets of the reading process's network namespace."""

SocketAddress = tuple[object, ...]
"""``getsockname()`` / ``getpeername()`` of an IPv4 or IPv6 socket: ``(host, port, ...)``."""

# Fields of a row counted from its local address: local, remote, state, queues, timer,
# retransmits, uid, timeout, inode.
_UID_FIELD = 6
_INODE_FIELD = 8


def proc_address(host: str, port: int) -> tuple[str, str]:
    """The file listing ``host`` (``"tcp"`` or ``"tcp6"``) and how it writes ``host:port``.

    The kernel prints each 32-bit word of the address in the machine's byte order, then the
    port, in upper-case hex: ``127.0.0.1:8080`` is ``0100007F:1F90`` on a little-endian
    machine. Raises ValueError for a host that is not an IP address.
    """
    ip = ipaddress.ip_address(host.split("%")[0])
    packed = ip.packed
    words = "".join(
        f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4)
    )
    return ("tcp" if ip.version == 4 else "tcp6"), f"{words}:{port:04X}"


def _rows(local: SocketAddress, peer: SocketAddress) -> list[tuple[str, str]]:
    """Each (file, row prefix) where the caller's end of the connection may be listed."""
    hosts = [(str(local[0]), str(peer[0]))]
    ours, theirs = (ipaddress.ip_address(h.split("%")[0]) for h in hosts[0])
    if (
        isinstance(ours, ipaddress.IPv6Address)
        and isinstance(theirs, ipaddress.IPv6Address)
        and ours.ipv4_mapped is not None
        and theirs.ipv4_mapped is not None
    ):
        # An IPv4 caller of a dual-stack listener: its own socket is an IPv4 one.
        hosts.append((str(ours.ipv4_mapped), str(theirs.ipv4_mapped)))
    rows = []
    for our_host, their_host in hosts:
        family, ours_written = proc_address(our_host, int(str(local[1])))
        _, theirs_written = proc_address(their_host, int(str(peer[1])))
        rows.append((family, f" {theirs_written} {ours_written} "))
    return rows


def peer_uid(local: SocketAddress, peer: SocketAddress, proc_net: Path = PROC_NET) -> int | None:
    """The uid owning the caller's end of the TCP connection from ``peer`` to ``local`` (our
    socket's ``getsockname()`` and ``getpeername()``), or ``None`` when no live socket of this
    network namespace is that end (a caller on another host, one that has closed its socket,
    an unreadable ``/proc``). Reads ``/proc/net/tcp`` or ``tcp6`` once (blocking, ~1 ms per
    10,000 sockets listed)."""
    try:
        rows = _rows(local, peer)
    except (ValueError, IndexError):
        return None
    for family, prefix in rows:
        try:
            listing = (proc_net / family).read_text(encoding="ascii")
        except OSError:
            continue
        uids = set()
        start = listing.find(prefix)
        while start >= 0:
            end = listing.find("\n", start)
            fields = listing[start : end if end >= 0 else None].split()
            uid, inode = fields[_UID_FIELD], fields[_INODE_FIELD]
            if inode == "0" or not uid.isdigit():
                return None  # closed by its process: the owner is unknown
            uids.add(int(uid))
            start = listing.find(prefix, start + 1)
        if len(uids) == 1:
            return uids.pop()
        if uids:
            return None
    return None
