"""The client commands' TLS options: a mistake names the missing or unreadable file, in one
line, before any connection is tried (never OpenSSL's ``[SSL] PEM lib``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.daemon import run_cli
from tests.remote.conftest import Certs

TARGET = "https://127.0.0.1:9/"  # never reached: the options are refused first


def _fails(*args: str) -> str:
    result = run_cli("describe", TARGET, *args)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert "PEM lib" not in line
    assert line.startswith("instance-rpc: ")
    return line.removeprefix("instance-rpc: ")


def test_a_certificate_without_its_key(certs: Certs) -> None:
    line = _fails("--tls-cert", str(certs.client_cert))
    assert line == (
        f"{certs.client_cert} holds a certificate but no private key: give the key file too "
        "(--tls-key)"
    )


def test_a_key_without_its_certificate(certs: Certs) -> None:
    line = _fails("--tls-key", str(certs.client_key))
    assert line == f"the key {certs.client_key} needs its certificate too (--tls-cert)"


@pytest.mark.parametrize("option", ["--tls-ca", "--tls-cert", "--tls-key"])
def test_a_missing_file_is_named(option: str, certs: Certs, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    args = {"--tls-cert": str(certs.client_cert), "--tls-key": str(certs.client_key)}
    args[option] = str(missing)
    flat = [word for pair in args.items() for word in pair]
    assert _fails(*flat) == f"cannot read {missing}: No such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_named(certs: Certs, tmp_path: Path) -> None:
    locked = tmp_path / "locked.key"
    locked.write_bytes(certs.client_key.read_bytes())
    locked.chmod(0)
    line = _fails("--tls-cert", str(certs.client_cert), "--tls-key", str(locked))
    assert line == f"cannot read {locked}: Permission denied"


@pytest.mark.parametrize(
    ("option", "holds"),
    [("--tls-ca", "CA certificate"), ("--tls-cert", "certificate"), ("--tls-key", "private key")],
)
def test_a_file_that_holds_something_else_is_named(
    option: str, holds: str, certs: Certs, tmp_path: Path
) -> None:
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not PEM at all\n")
    args = {"--tls-cert": str(certs.client_cert), "--tls-key": str(certs.client_key)}
    args[option] = str(wrong)
    flat = [word for pair in args.items() for word in pair]
    assert _fails(*flat) == f"{wrong} holds no PEM {holds}"


def test_a_key_of_another_certificate(certs: Certs) -> None:
    line = _fails("--tls-cert", str(certs.client_cert), "--tls-key", str(certs.stranger_key))
    assert line == (
        f"cannot load the certificate and key from {certs.client_cert} and "
        f"{certs.stranger_key}: the key does not belong to the certificate (key values mismatch)"
    )
