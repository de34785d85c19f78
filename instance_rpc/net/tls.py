"""TLS contexts for TCP listeners and for clients, and TLS failures told in a few words.

A daemon serving HTTPS loads its certificate and key; with a client CA it requires every client
to present a certificate signed by that CA (mutual TLS), so a peer without one fails the TLS
handshake before any HTTP is read. Both sides accept TLS 1.2 and newer only.
"""

from __future__ import annotations

import os
import ssl

import aiohttp

__all__ = [
    "ServerTLS",
    "TLSConfigError",
    "client_context",
    "server_context",
    "tls_failure_reason",
]

StrPath = str | os.PathLike[str]


class TLSConfigError(ValueError):
    """A certificate, key or CA file that cannot be loaded; the message names the file."""


def _pem(path: StrPath, marker: bytes, what: str) -> bytes:
    """The bytes of ``path``, once they hold a PEM block whose label contains ``marker``;
    :class:`TLSConfigError` naming the file otherwise."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise TLSConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in data.splitlines():
        if line.startswith(b"-----BEGIN ") and marker in line:
            return data
    raise TLSConfigError(f"{path} holds no PEM {what}")


def _load_chain(context: ssl.SSLContext, cert: StrPath, key: StrPath | None) -> None:
    """``cert`` and ``key`` (``None``: the key is in ``cert``'s file), each file checked for
    what it must hold before OpenSSL reads them, so that a mistake names its file."""
    chain = _pem(cert, b"CERTIFICATE", "certificate")
    if key is None:
        if not any(b"PRIVATE KEY" in line for line in chain.splitlines() if b"-----BEGIN" in line):
            raise TLSConfigError(
                f"{cert} holds a certificate but no private key: give the key file too (--tls-key)"
            )
    else:
        _pem(key, b"PRIVATE KEY", "private key")
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        where = f"{cert} and {key}" if key is not None else str(cert)
        reason = getattr(exc, "reason", None) or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            reason = "the key does not belong to the certificate (key values mismatch)"
        raise TLSConfigError(
            f"cannot load the certificate and key from {where}: {reason}"
        ) from None


def _load_ca(context: ssl.SSLContext, ca: StrPath) -> None:
    _pem(ca, b"CERTIFICATE", "CA certificate")
    try:
        context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise TLSConfigError(f"cannot load the CA certificates in {ca}: {reason}") from None


def server_context(
    cert: StrPath, key: StrPath, *, client_ca: StrPath | None = None
) -> ssl.SSLContext:
    """The context of an HTTPS listener; with ``client_ca``, clients must prove who they are.

    Raises :class:`TLSConfigError` naming the file that cannot be loaded.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert, key)
    if client_ca is not None:
        _load_ca(context, client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        # TLS 1.3 checks a client's certificate after the client has finished its handshake and
        # sent its request, and asyncio drops the alert: a refused client would only see a reset
        # after sending. TLS 1.2 refuses it inside the handshake, before any request leaves it.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


class ServerTLS:
    """A listener's TLS context made from files, and made again from them on :meth:`reload`
    (certificate rotation without a restart).

    ``cert``, ``key``, ``client_ca``: as for :func:`server_context`, which raises
    :class:`TLSConfigError` when made.
    """

    def __init__(self, cert: StrPath, key: StrPath, *, client_ca: StrPath | None = None) -> None:
        self.cert = cert
        self.key = key
        self.client_ca = client_ca
        self.context = server_context(cert, key, client_ca=client_ca)
        """The context new connections get."""

    def reload(self) -> ssl.SSLContext:
        """Read the files again into a new context, which becomes :attr:`context` and is
        returned. Raises :class:`TLSConfigError` naming the file and why (a missing file, a
        key that is not the certificate's), and then :attr:`context` stays the old one."""
        self.context = server_context(self.cert, self.key, client_ca=self.client_ca)
        return self.context


def client_context(
    *, ca: StrPath | None = None, cert: StrPath | None = None, key: StrPath | None = None
) -> ssl.SSLContext:
    """The context a client uses for ``https://`` plugins.

    ``ca``: the CA that signed the daemon's certificate (default: the system's trusted CAs).
    ``cert``/``key``: the client's own certificate, for daemons that require one. The daemon's
    name is always checked against its certificate. Raises :class:`TLSConfigError`.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca is not None:
        _load_ca(context, ca)
    if cert is not None:
        _load_chain(context, cert, key)
    elif key is not None:
        _pem(key, b"PRIVATE KEY", "private key")
        raise TLSConfigError(f"the key {key} needs its certificate too (--tls-cert)")
    return context


# OpenSSL's reasons, as the ssl module reports them, in the words an operator looks for.
_REASONS = (
    ("CERTIFICATE_VERIFY_FAILED", "unable to get local issuer", "unknown CA"),
    ("CERTIFICATE_VERIFY_FAILED", "self-signed", "unknown CA"),
    ("CERTIFICATE_VERIFY_FAILED", "Hostname mismatch", "name mismatch"),
    ("CERTIFICATE_VERIFY_FAILED", "IP address mismatch", "name mismatch"),
    ("CERTIFICATE_VERIFY_FAILED", "expired", "certificate expired"),
    ("CERTIFICATE_REQUIRED", "", "no client certificate (the daemon requires one)"),
    ("HANDSHAKE_FAILURE", "", "handshake failure"),
    ("UNKNOWN_CA", "", "unknown CA: the daemon does not trust the client certificate"),
    ("BAD_CERTIFICATE", "", "the daemon refused the client certificate"),
    ("PROTOCOL_VERSION", "", "no TLS version in common with the daemon"),
    ("UNSUPPORTED_PROTOCOL", "", "no TLS version in common with the daemon"),
    ("NO_PROTOCOLS_AVAILABLE", "", "no TLS version in common with the daemon"),
    ("WRONG_VERSION_NUMBER", "", "not a TLS server (plain HTTP?)"),
    ("RECORD_LAYER_FAILURE", "", "not a TLS server (plain HTTP?)"),
    ("PACKET_LENGTH_TOO_LONG", "", "not a TLS server (plain HTTP?)"),
)


_REFUSED = (
    "TLS: the daemon refused the handshake (no client certificate, or one signed by a CA it "
    "does not trust)"
)


_TLS_1_2_ONLY = (
    "TLS: the daemon ended the handshake, and this client allows only TLS 1.3 or newer: a "
    "daemon that wants a client certificate (--tls-client-ca) speaks TLS 1.2 only; allow TLS "
    "1.2 in the client (ssl.SSLContext.minimum_version) and present a certificate signed by "
    "the daemon's client CA"
)


def _newer_than_tls_1_2(context: ssl.SSLContext | None) -> bool:
    """Whether ``context`` allows only TLS versions newer than 1.2."""
    return context is not None and context.minimum_version in (
        ssl.TLSVersion.TLSv1_3,
        ssl.TLSVersion.MAXIMUM_SUPPORTED,
    )


def _ssl_error(exc: BaseException | None) -> ssl.SSLError | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLError) and not isinstance(exc, aiohttp.ClientError):
            return exc
        certificate_error = getattr(exc, "certificate_error", None)
        if isinstance(certificate_error, ssl.SSLError):
            return certificate_error
        os_error = getattr(exc, "os_error", None)
        if isinstance(os_error, ssl.SSLError):
            return os_error
        exc = exc.__cause__ or exc.__context__
    return None


def tls_failure_reason(exc: BaseException, *, context: ssl.SSLContext | None = None) -> str | None:
    """A one-line reason when ``exc`` (an aiohttp or ssl error) is a TLS failure, else ``None``.

    Like ``"unknown CA (certificate verify failed: unable to get local issuer certificate)"``.
    ``context``: the client's own TLS context, which tells a daemon that ended the handshake
    because of the TLS version (a client allowing only TLS 1.3, and a daemon that wants client
    certificates and therefore speaks TLS 1.2, see :func:`server_context`) from one that
    refused the client's certificate: the connection is reset in both cases.
    """
    error = _ssl_error(exc)
    if error is None:
        if isinstance(exc, aiohttp.ClientSSLError):
            return f"TLS failure: {exc}"
        if (
            isinstance(exc, aiohttp.ClientConnectorError)
            and exc.ssl is not False
            and isinstance(exc.os_error, ConnectionResetError | ConnectionAbortedError)
        ):
            return _TLS_1_2_ONLY if _newer_than_tls_1_2(context) else _REFUSED
        return None
    text = str(error.reason or "")
    detail = getattr(error, "verify_message", None) or text.replace("_", " ").lower()
    if "PROTOCOL" in text and _newer_than_tls_1_2(context):
        return f"{_TLS_1_2_ONLY} ({detail})"
    for reason_code, marker, words in _REASONS:
        if reason_code in text and marker in (detail or ""):
            return f"TLS: {words} ({detail})" if detail else f"TLS: {words}"
    return f"TLS: {detail or error}"
