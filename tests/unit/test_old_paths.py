"""Every public module path of the flat layout still imports, with every name it exported.

The table is the flat layout's modules and their ``__all__``, as released; a module that moved is
reached through its old path (instance_rpc/_moved.py) and is the module at its new path.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from instance_rpc._moved import MOVED

OLD_PUBLIC_NAMES: dict[str, list[str]] = {
    "instance_rpc.activation": ["ActivatedServer"],
    "instance_rpc.app": [
        "ACCEPTED_CONTENT_TYPES",
        "DEFAULT_MAX_BODY",
        "INFO_PATH",
        "AppHandler",
        "create_app",
        "create_request_factory",
        "documents",
        "with_warnings",
    ],
    "instance_rpc.backends": [
        "ENTRY_POINT_GROUP",
        "UnknownBackend",
        "available_backends",
        "backend_factory",
        "load_backend",
    ],
    "instance_rpc.bench": [
        "BENCH_TAG",
        "METHODS",
        "LoadReport",
        "Sample",
        "Summary",
        "drive",
        "percentile",
        "run_load",
    ],
    "instance_rpc.client": [
        "DEFAULT_PROVISION_TIMEOUT",
        "DEFAULT_RETRIES",
        "DEFAULT_RETRY_BACKOFF",
        "DEFAULT_TIMEOUT",
        "PluginClient",
    ],
    "instance_rpc.collector": ["DAEMON_THRESHOLDS", "LARGE", "paused", "settle_daemon"],
    "instance_rpc.connection_limits": [
        "DEFAULT_LIMITS",
        "ConnectionGuard",
        "ConnectionLimits",
        "ConnectionPool",
        "RefusalHook",
    ],
    "instance_rpc.delivery": ["Attempt", "TCPConnector", "UnixConnector", "attempting", "failure"],
    "instance_rpc.discovery": [
        "PluginAddress",
        "PluginName",
        "list_plugins",
        "plugins_dir",
        "resolve",
    ],
    "instance_rpc.endpoints": ["Endpoint", "resolve_endpoint"],
    "instance_rpc.envelope": [
        "ENCODER",
        "CheckedRequest",
        "ErrorEnvelope",
        "ErrorObject",
        "RequestRejected",
        "SuccessEnvelope",
        "check_request",
        "decode_request",
        "error_bytes",
        "parse_body",
    ],
    "instance_rpc.errors": [
        "BadResponse",
        "CallOutcomeUnknown",
        "CallTimeout",
        "DiscoveryError",
        "HandshakeError",
        "InstanceNotFound",
        "InstanceRPCError",
        "InterfaceNotSupported",
        "InternalError",
        "InvalidParams",
        "InvalidProperties",
        "InvalidRequest",
        "MethodNotFound",
        "NoSuchType",
        "ParseError",
        "PluginError",
        "PluginNotFound",
        "PluginUnavailable",
        "RPCError",
        "TransportError",
        "VersionMismatch",
        "error_for_code",
    ],
    "instance_rpc.eventloop": [
        "ENVIRONMENT_VARIABLE",
        "LOOP_NAMES",
        "loop_factory",
        "loop_name",
        "run",
    ],
    "instance_rpc.field_paths": ["name_map_keys", "render_key"],
    "instance_rpc.handshake": [
        "DEFAULT_TYPE_NAME",
        "HELLO_INTERFACE",
        "IMPLEMENTS_INTERFACE",
        "check_compatible",
        "hello_result",
        "implements_result",
        "offered_interfaces",
        "types_result",
    ],
    "instance_rpc.http_errors": [
        "DEFAULT_LOG_INTERVAL",
        "DEFAULT_LOG_PER_INTERVAL",
        "RateLimitedLog",
        "RequestHandler",
    ],
    "instance_rpc.listen_files": [
        "LISTEN_SUFFIX",
        "ListenFile",
        "list_listen_files",
        "listen_file_for",
        "read_listen_file",
    ],
    "instance_rpc.listeners": [
        "DEFAULT_BACKLOG",
        "GuardedSite",
        "InsecureListener",
        "ListenAddress",
        "bind_tcp",
        "bind_unix",
        "check_plain_tcp",
        "system_backlog",
    ],
    "instance_rpc.log_format": [
        "CALL_FIELDS",
        "LOG_FORMATS",
        "TEXT_FORMAT",
        "JsonFormatter",
        "configure_logging",
        "log_call",
    ],
    "instance_rpc.log_output": [
        "FLUSH_INTERVAL",
        "TEXT_FORMAT",
        "BufferedStreamHandler",
        "TextFormatter",
        "flush_logs",
    ],
    "instance_rpc.logs": [
        "REDACTED",
        "REDACTED_MESSAGE",
        "RedactingFilter",
        "install_redaction",
        "redact",
    ],
    "instance_rpc.metrics": [
        "CONTENT_TYPE",
        "METRICS_KEY",
        "METRICS_PATH",
        "OTHER",
        "REFUSAL_REASONS",
        "Metrics",
        "count_refusal",
    ],
    "instance_rpc.observe": ["CallObserver"],
    "instance_rpc.open_files": ["RESERVE", "OpenFilesLimit", "make_room"],
    "instance_rpc.properties_schema": [
        "PropertiesDeclaration",
        "declaration_of",
        "schema_violation",
    ],
    "instance_rpc.protocol": [
        "DEFAULT_MAX_BATCH",
        "Call",
        "JsonRpcProtocol",
        "MethodBody",
        "Result",
    ],
    "instance_rpc.remote_access": ["ListenerFailed", "RemoteAccess"],
    "instance_rpc.responses": ["decode_response"],
    "instance_rpc.server": [
        "DEFAULT_MAX_BODY",
        "DEFAULT_SHUTDOWN_TIMEOUT",
        "DEFAULT_SOCKET_MODE",
        "AddressInUse",
        "PluginServer",
        "create_app",
        "documents",
        "probe_socket",
    ],
    "instance_rpc.service": ["DEFAULT_MAX_BATCH", "DEFAULT_VENDOR", "InstanceService"],
    "instance_rpc.serving": ["DEFAULT_SHUTDOWN_TIMEOUT", "Serving"],
    "instance_rpc.specfile": [
        "SPEC_FIELDS",
        "Format",
        "SpecFileError",
        "format_of",
        "parse_properties",
        "parse_spec",
    ],
    "instance_rpc.specyaml": ["YAMLSpecError", "load_yaml"],
    "instance_rpc.spi": [
        "INTERFACE",
        "ROLLING_UPDATE",
        "SUPPORTED_VERSIONS",
        "TERMINATION",
        "EncodedDescriber",
        "InstanceCounter",
        "Plugin",
        "VendorProvider",
    ],
    "instance_rpc.streamed_response": ["send_streamed"],
    "instance_rpc.streaming": ["PLACEHOLDER", "StreamedAnswer", "StreamedResult"],
    "instance_rpc.sync_client": ["SyncPluginClient"],
    "instance_rpc.systemd": [
        "LISTEN_FDS_START",
        "ActivationError",
        "InheritedSocket",
        "listen_sockets",
        "notify",
    ],
    "instance_rpc.tls": [
        "TLSConfigError",
        "client_context",
        "server_context",
        "tls_failure_reason",
    ],
    "instance_rpc.transport": [
        "DEFAULT_RETRIES",
        "DEFAULT_RETRY_BACKOFF",
        "DEFAULT_TIMEOUT",
        "Transport",
    ],
    "instance_rpc.types": [
        "ID",
        "ROLLING_UPDATE",
        "TERMINATION",
        "Attachment",
        "Context",
        "Description",
        "InterfaceSpec",
        "LogicalID",
        "Properties",
        "Spec",
        "VendorInfo",
        "encode_properties",
        "json_kind",
        "load_properties",
    ],
    "instance_rpc.unix_socket": [
        "AddressInUse",
        "PathLock",
        "claim_path",
        "make_parents",
        "probe_socket",
        "remove_directories",
    ],
    "instance_rpc.wire": [
        "DescribeParams",
        "DescribeResult",
        "DestroyParams",
        "HelloResult",
        "ImplementsResult",
        "LabelParams",
        "OKResult",
        "ProvisionParams",
        "ProvisionResult",
        "TypesResult",
        "ValidateParams",
        "WireDescription",
        "WireSpec",
        "WireTypeInfo",
    ],
}


@pytest.mark.filterwarnings("ignore:instance_rpc.* moved to:DeprecationWarning")
@pytest.mark.parametrize("old_path", sorted(OLD_PUBLIC_NAMES))
def test_an_old_path_imports_with_every_name_it_exported(old_path: str) -> None:
    module = importlib.import_module(old_path)
    missing = [name for name in OLD_PUBLIC_NAMES[old_path] if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("old_path", sorted(MOVED))
def test_a_moved_module_is_the_module_at_its_new_path(
    old_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, old_path, raising=False)
    with pytest.warns(DeprecationWarning, match=MOVED[old_path]):
        module = importlib.import_module(old_path)
    assert module is importlib.import_module(MOVED[old_path])
    assert module.__spec__ is not None
    assert module.__spec__.name == MOVED[old_path]


def test_a_path_that_never_existed_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("instance_rpc.no_such_module")
