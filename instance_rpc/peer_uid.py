"""Which local user is at the other end of a loopback TCP connection.

A Unix socket's file mode says who may connect; a TCP port admits every local user. The kernel
knows the uid owning every TCP socket of the network namespace and lists them all in
``/proc/net/tcp`` (IPv4) and ``/proc/net/tcp6`` (IPv6), its ``uid`` column (``proc(5)``; Linux
``net/ipv4/tcp_ipv4.c``): the caller's end of a loopback connection is the row whose local
address is our peer's and whose remote address is ours. That listing is remade for every 4 KiB
read, about 10 us per socket on the machine, so with thousands of sockets it costs tens of
milliseconds; the kernel's socket diagnostics (``sock_diag(7)``, ``NETLINK_SOCK_DIAG``, what
``ss`` reads) answer the same question for one socket in tens of microseconds. :func:`peer_uid`
asks the latter and reads the listing only where netlink is unavailable.

A socket its process has closed (an orphan, or a ``TIME_WAIT`` entry) has no inode and is
listed with uid 0: its owner is no longer known, so it names nobody (``None``), never root.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from pathlib import Path

__all__ = ["PROC_NET", "peer_uid", "peer_uid_from_proc", "proc_address"]

PROC_NET = Path("/proc/net")
"""Where the kernel lists the sockets of the reading process's network namespace."""

SocketAddress = tuple[object, ...]
"""``getsockname()`` / ``getpeername()`` of an IPv4 or IPv6 socket: ``(host, port, ...)``."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_End = tuple[IPAddress, int]  # an address and a port

# Fields of a /proc/net/tcp row counted from its local address: local, remote, state, queues,
# timer, retransmits, uid, timeout, inode.
_UID_FIELD = 6
_INODE_FIELD = 8

# linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # inet_diag_req_v2: family, protocol, ext, pad, states
_SOCKET_ID = struct.Struct("!HH16s16s")  # inet_diag_sockid: ports and addresses, network order
_SOCKET_ID_REST = struct.Struct("=III")  # interface, cookie (two words)
_MESSAGE_START = struct.Struct("=BBBB")  # inet_diag_msg: family, state, timer, retransmits
_MESSAGE_REST = struct.Struct("=IIIII")  # expires, read queue, write queue, uid, inode


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


def _ends(local: SocketAddress, peer: SocketAddress) -> list[tuple[_End, _End]]:
    """Each (caller's end, our end) under which the caller's socket may be known. Raises
    ValueError or IndexError for an address that is not an IP one."""
    ours = ipaddress.ip_address(str(local[0]).split("%")[0])
    theirs = ipaddress.ip_address(str(peer[0]).split("%")[0])
    our_port, their_port = int(str(local[1])), int(str(peer[1]))
    found: list[tuple[_End, _End]] = [((theirs, their_port), (ours, our_port))]
    if (
        isinstance(ours, ipaddress.IPv6Address)
        and isinstance(theirs, ipaddress.IPv6Address)
        and ours.ipv4_mapped is not None
        and theirs.ipv4_mapped is not None
    ):
        # An IPv4 caller of a dual-stack listener: its own socket is an IPv4 one.
        found.append(((theirs.ipv4_mapped, their_port), (ours.ipv4_mapped, our_port)))
    return found


def _owner(uid: int, inode: int) -> int | None:
    return None if inode == 0 else uid


def _diag_uid(caller: _End, ours: _End) -> int | None:
    """The uid owning the socket whose local end is ``caller`` and remote end ``ours``, asked
    of sock_diag; ``None`` when there is none or it has no owner. Raises OSError when netlink
    cannot be used."""
    family = socket.AF_INET if caller[0].version == 4 else socket.AF_INET6
    request = (
        _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
        + _SOCKET_ID.pack(caller[1], ours[1], caller[0].packed, ours[0].packed)
        + _SOCKET_ID_REST.pack(0, _NO_COOKIE, _NO_COOKIE)
    )
    header = _HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.sendto(header + request, (0, 0))
        answer = diag.recv(8192)
    _, kind, _, _, _ = _HEADER.unpack_from(answer)
    if kind == _NLMSG_ERROR:
        return None  # no such socket (ENOENT)
    offset = _HEADER.size + _MESSAGE_START.size + _SOCKET_ID.size + _SOCKET_ID_REST.size
    _, _, _, uid, inode = _MESSAGE_REST.unpack_from(answer, offset)
    return _owner(uid, inode)


def _read_listing(path: Path) -> str:
    chunks = []
    with open(path, "rb", buffering=0) as listing:
        while chunk := listing.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks).decode("ascii")


def _proc_uid(caller: _End, ours: _End, proc_net: Path) -> int | None:
    family, theirs_written = proc_address(str(caller[0]), caller[1])
    _, ours_written = proc_address(str(ours[0]), ours[1])
    listing = _read_listing(proc_net / family)
    prefix = f" {theirs_written} {ours_written} "
    owners = set()
    start = listing.find(prefix)
    while start >= 0:
        end = listing.find("\n", start)
        fields = listing[start : end if end >= 0 else None].split()
        owners.add(_owner(int(fields[_UID_FIELD]), int(fields[_INODE_FIELD])))
        start = listing.find(prefix, start + 1)
    return owners.pop() if len(owners) == 1 else None


def peer_uid_from_proc(
    local: SocketAddress, peer: SocketAddress, proc_net: Path = PROC_NET
) -> int | None:
    """:func:`peer_uid` read from ``/proc/net/tcp`` or ``tcp6`` (blocking: about 10 us per
    socket on the machine)."""
    try:
        ends = _ends(local, peer)
    except (ValueError, IndexError):
        return None
    for caller, ours in ends:
        try:
            uid = _proc_uid(caller, ours, proc_net)
        except (OSError, ValueError, IndexError):
            continue
        if uid is not None:
            return uid
    return None


def peer_uid(local: SocketAddress, peer: SocketAddress, proc_net: Path = PROC_NET) -> int | None:
    """The uid owning the caller's end of the TCP connection from ``peer`` to ``local`` (our
    socket's ``getsockname()`` and ``getpeername()``), or ``None`` when no live socket of this
    network namespace is that end (a caller on another host, one that has closed its socket).
    Asks sock_diag (blocking, tens of microseconds); where netlink is refused, reads
    ``proc_net`` (see :func:`peer_uid_from_proc`)."""
    try:
        ends = _ends(local, peer)
    except (ValueError, IndexError):
        return None
    try:
        for caller, ours in ends:
            uid = _diag_uid(caller, ours)
            if uid is not None:
                return uid
    except (OSError, struct.error):
        return peer_uid_from_proc(local, peer, proc_net)
    return None
