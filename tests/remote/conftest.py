"""Certificates for TLS tests (trustme): a CA, the daemon's, clients' own, one from another CA."""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

DAEMON_NAMES = ("localhost", "127.0.0.1", "::1", "10.231.0.1")
"""Names the daemon's certificate is valid for (10.231.0.1: the namespace test's daemon)."""


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path
    other_ca: Path


def _write(directory: Path, name: str, blob: trustme.Blob) -> Path:
    path = directory / name
    blob.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    other = trustme.CA()
    server = ca.issue_cert(*DAEMON_NAMES)
    client = ca.issue_cert("orchestrator@example.org")
    stranger = other.issue_cert("stranger@example.org")
    return Certs(
        ca=_write(directory, "ca.pem", ca.cert_pem),
        server_cert=_write(directory, "server.pem", server.cert_chain_pems[0]),
        server_key=_write(directory, "server.key", server.private_key_pem),
        client_cert=_write(directory, "client.pem", client.cert_chain_pems[0]),
        client_key=_write(directory, "client.key", client.private_key_pem),
        stranger_cert=_write(directory, "stranger.pem", stranger.cert_chain_pems[0]),
        stranger_key=_write(directory, "stranger.key", stranger.private_key_pem),
        other_ca=_write(directory, "other-ca.pem", other.cert_pem),
    )


def https_daemon_options(socket_path: Path, certs: Certs) -> list[str]:
    """``serve`` options for a memory daemon on ``socket_path`` that also listens on
    ``https://127.0.0.1:PORT`` (a free port, see :func:`advertised_url`) with the test CA's
    server certificate, asking clients for none (``--insecure-listen``)."""
    return [
        "--socket", str(socket_path), "--plugin", "memory",
        "--listen", "tcp://127.0.0.1:0",
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
        "--insecure-listen",
    ]  # fmt: skip


def advertised_url(socket_path: Path) -> str:
    """The URL a daemon on ``socket_path`` advertises in ``<socket>.listen``."""
    return socket_path.with_name(socket_path.name + ".listen").read_text().strip()


@contextlib.contextmanager
def open_files(wanted: int) -> Iterator[None]:
    """This process's soft open-files limit raised to ``wanted`` (a daemon started meanwhile
    inherits it), restored after; the test is skipped where the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
