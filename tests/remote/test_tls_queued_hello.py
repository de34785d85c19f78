"""A TLS client whose ClientHello is already waiting when the daemon accepts its connection is
served, not left to its handshake timeout: the bytes belong to the handshake, and the daemon
reads nothing before it has one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from instance_rpc import SyncPluginClient
from instance_rpc.net.tls import client_context
from tests.daemon import running_daemon
from tests.remote.conftest import Certs, advertised_url, https_daemon_options

HEADER_TIMEOUT = 8.0


def test_a_client_hello_sent_while_the_daemon_was_busy_is_answered(
    sock_dir: Path, certs: Certs
) -> None:
    path = sock_dir / "p"
    options = https_daemon_options(path, certs)
    with running_daemon(*options, "--header-timeout", str(HEADER_TIMEOUT)) as daemon:
        url = advertised_url(path).replace("127.0.0.1", "localhost")
        outcome: list[object] = []

        def call() -> None:
            started = time.monotonic()
            try:
                with SyncPluginClient(url, ssl=client_context(ca=certs.ca), retries=0) as client:
                    outcome.append(client.describe_instances(None))
            except Exception as exc:  # reported below, with how long it took
                outcome.append(exc)
            outcome.append(time.monotonic() - started)

        # Stopped, the daemon cannot accept: the kernel completes the TCP handshake and keeps
        # the ClientHello in the socket, so both are waiting when the daemon goes on.
        with daemon.stopped():
            caller = threading.Thread(target=call)
            caller.start()
            time.sleep(1.0)
        caller.join(HEADER_TIMEOUT + 20)
        assert not caller.is_alive()
        result, seconds = outcome
        assert result == [], f"{result!r} after {seconds:.1f}s"
        assert isinstance(seconds, float)
        assert seconds < HEADER_TIMEOUT
