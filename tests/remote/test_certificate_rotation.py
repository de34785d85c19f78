"""SIGHUP reloads the daemon's TLS certificate, key and client CA without a restart; a pair that
does not load keeps the old one and says why."""

from __future__ import annotations

import signal
import ssl
import time
from pathlib import Path

import pytest
import trustme

from instance_rpc import SyncPluginClient
from instance_rpc.errors import PluginUnavailable
from instance_rpc.tls import client_context
from tests.daemon import Daemon, running_daemon
from tests.remote.conftest import DAEMON_NAMES, advertised_url


class Authority:
    """A CA for daemons and one for their clients, written under ``directory/name``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.folder = directory / name
        self.folder.mkdir()
        servers, clients = trustme.CA(), trustme.CA()
        self.server = servers.issue_cert(*DAEMON_NAMES)
        client = clients.issue_cert("orchestrator@example.org")
        servers.cert_pem.write_to_path(str(self.folder / "ca.pem"))
        clients.cert_pem.write_to_path(str(self.folder / "client-ca.pem"))
        client.cert_chain_pems[0].write_to_path(str(self.folder / "client.pem"))
        client.private_key_pem.write_to_path(str(self.folder / "client.key"))

    def client(self) -> ssl.SSLContext:
        """A client trusting only this authority's daemons, with a certificate of its own."""
        folder = self.folder
        return client_context(
            ca=folder / "ca.pem", cert=folder / "client.pem", key=folder / "client.key"
        )

    def install(self, served: Path) -> None:
        """Make this authority's certificate, key and client CA the daemon's files."""
        self.server.cert_chain_pems[0].write_to_path(str(served / "server.pem"))
        self.server.private_key_pem.write_to_path(str(served / "server.key"))
        (served / "client-ca.pem").write_bytes((self.folder / "client-ca.pem").read_bytes())


def describe(url: str, context: ssl.SSLContext) -> list[object]:
    with SyncPluginClient(url, ssl=context, timeout=10, retries=0) as client:
        return list(client.describe_instances(None))


def wait_for_log(daemon: Daemon, text: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while daemon.log().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times: {daemon.log()}"
        time.sleep(0.05)


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sighup_swaps_in_new_certificates_and_keeps_them_when_a_pair_is_bad(
    loop: str, sock_dir: Path, tmp_path: Path
) -> None:
    first, second = Authority(tmp_path, "first"), Authority(tmp_path, "second")
    served = tmp_path / "served"
    served.mkdir()
    first.install(served)
    with running_daemon(
        "--socket", str(sock_dir / "p"), "--plugin", "memory", "--listen", "tcp://127.0.0.1:0",
        "--tls-cert", str(served / "server.pem"), "--tls-key", str(served / "server.key"),
        "--tls-client-ca", str(served / "client-ca.pem"),
        env={"INSTANCE_RPC_LOOP": loop},
    ) as daemon:  # fmt: skip
        url = advertised_url(sock_dir / "p")
        assert describe(url, first.client()) == []
        with pytest.raises(PluginUnavailable, match="unknown CA"):
            describe(url, second.client())

        second.install(served)
        daemon.process.send_signal(signal.SIGHUP)
        wait_for_log(daemon, "TLS certificate reloaded", 1)
        assert describe(url, second.client()) == []
        with pytest.raises(PluginUnavailable, match="unknown CA"):
            describe(url, first.client())  # trusts only the old daemon CA
        mixed = second.client()
        mixed.load_cert_chain(first.folder / "client.pem", first.folder / "client.key")
        with pytest.raises(PluginUnavailable, match="refused the handshake"):
            describe(url, mixed)  # a certificate from the old client CA

        # A new certificate with a key that is not its own: the second pair stays in use.
        third = Authority(tmp_path, "third")
        third.server.cert_chain_pems[0].write_to_path(str(served / "server.pem"))
        daemon.process.send_signal(signal.SIGHUP)
        wait_for_log(daemon, "keeping the current TLS certificate", 1)
        assert describe(url, second.client()) == []
        log = daemon.log()
        assert daemon.process.poll() is None
    [warning] = [line for line in log.splitlines() if "keeping the current" in line]
    assert " WARNING " in warning
    assert str(served / "server.pem") in warning
    assert "mismatch" in warning.lower(), warning
