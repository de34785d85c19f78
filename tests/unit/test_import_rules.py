"""The import rules of docs/architecture.md, checked on the source with ``ast``.

Each rule names the modules it governs and what they may not import (or the only core modules
they may import); a rule broken fails with every offending ``module -> import`` pair.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = "instance_rpc"
BACKENDS = "instance_rpc_plugins"

SERVER_SIDE = {
    "activation",
    "app",
    "body_reading",
    "byte_budget",
    "connection_guard",
    "caller_policy",
    "connection_limits",
    "envelope",
    "http_errors",
    "listeners",
    "metrics",
    "peer_uid",
    "protocol",
    "rate_limited_log",
    "remote_access",
    "server",
    "service",
    "serving",
    "streamed_response",
    "streaming",
    "systemd",
    "unix_socket",
}
CLIENT_SIDE = {"client", "delivery", "endpoints", "responses", "sync_client", "transport"}
HTTP_SERVING = {"activation", "app", "http_errors", "listeners", "remote_access", "server"}
HTTP_SERVING |= {"unix_socket", "systemd", "serving", "streamed_response", "body_reading"}
HTTP_SERVING |= {"caller_policy"}


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """Every module ``source`` imports, relative imports resolved against ``module``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(str(node.module))
                continue
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            if node.module is None:  # from . import a, b: each may be a module
                found.update(".".join([*base, alias.name]) for alias in node.names)
            else:
                found.add(".".join([*base, node.module]))
    return found


def _graph(directory: str, package: str) -> dict[str, set[str]]:
    root = ROOT / directory
    return {
        _module_name(path, root, package): imports_of(
            path.read_text(), _module_name(path, root, package), path.name == "__init__.py"
        )
        for path in sorted(root.rglob("*.py"))
    }


LIBRARY = _graph("instance_rpc", CORE)
PLUGINS = _graph("plugins", BACKENDS)


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _core(short: Iterable[str]) -> set[str]:
    return {f"{CORE}.{name}" for name in short}


def violations(
    graph: dict[str, set[str]], governed: Iterable[str], forbidden: Iterable[str]
) -> list[str]:
    """``module -> import`` for each module of ``governed`` (full names) importing one of
    ``forbidden`` (modules or packages)."""
    governed, forbidden = set(governed), list(forbidden)
    return [
        f"{module} -> {imported}"
        for module, imported_set in graph.items()
        if module in governed
        for imported in sorted(imported_set)
        if _within(imported, forbidden)
    ]


def test_backends_import_from_the_core_only_spi_types_and_errors() -> None:
    allowed = _core(["spi", "types", "errors"])
    found = [
        f"{module} -> {imported}"
        for module, imported_set in PLUGINS.items()
        for imported in sorted(imported_set)
        if _within(imported, [CORE]) and imported not in allowed
    ]
    assert found == []


def test_nothing_but_the_command_imports_the_command() -> None:
    outside = [m for m in LIBRARY if not _within(m, [f"{CORE}.cli", f"{CORE}.__main__"])]
    assert violations(LIBRARY, outside, [f"{CORE}.cli"]) == []


def test_the_library_imports_testing_only_from_testing_and_the_command() -> None:
    outside = [m for m in LIBRARY if not _within(m, [f"{CORE}.testing", f"{CORE}.cli"])]
    assert violations(LIBRARY, outside, [f"{CORE}.testing"]) == []


def test_the_library_loads_backends_by_name_never_by_import() -> None:
    assert violations(LIBRARY, LIBRARY, [BACKENDS, "plugins"]) == []


def test_the_core_models_import_only_each_other() -> None:
    core = _core(["types", "spi", "errors", "wire"])
    found = [
        f"{module} -> {imported}"
        for module in core
        for imported in sorted(LIBRARY[module])
        if _within(imported, [CORE]) and imported not in core
    ]
    assert found == []


def test_the_protocol_layer_knows_no_instance_service_and_no_transport() -> None:
    forbidden = _core(["service", "client", "transport", *HTTP_SERVING]) | {"aiohttp"}
    assert violations(LIBRARY, _core(["envelope", "protocol", "streaming"]), forbidden) == []


def test_the_service_knows_no_transport() -> None:
    forbidden = _core(["client", "transport", *HTTP_SERVING]) | {"aiohttp"}
    assert violations(LIBRARY, _core(["service"]), forbidden) == []


def test_the_client_side_imports_nothing_of_the_server_side() -> None:
    forbidden = _core(SERVER_SIDE) | {"jsonrpcserver"}
    assert violations(LIBRARY, _core(CLIENT_SIDE), forbidden) == []


def test_the_server_side_imports_nothing_of_the_client_side() -> None:
    forbidden = _core(CLIENT_SIDE) | {"jsonrpcclient"}
    assert violations(LIBRARY, _core(SERVER_SIDE), forbidden) == []


def test_the_proxy_reaches_the_plugin_only_through_the_transport() -> None:
    assert violations(LIBRARY, _core(["client"]), ["aiohttp", f"{CORE}.delivery"]) == []


def test_the_transport_carries_bytes_not_json_rpc() -> None:
    forbidden = ["jsonrpcclient", *_core(["wire", "responses", "client"])]
    assert violations(LIBRARY, _core(["transport"]), forbidden) == []


@pytest.mark.parametrize("directory", ["tests", "examples", "benchmarks"])
def test_nothing_imports_the_backends_under_their_folder_name(directory: str) -> None:
    graph = _graph(directory, directory)
    assert violations(graph, graph, ["plugins"]) == []


def test_a_forbidden_import_is_found() -> None:
    source = "from ..cli import main\nfrom .. import service\n"
    found = imports_of(source, f"{CORE}.testing.daemon", is_package=False)
    assert found == {f"{CORE}.cli", f"{CORE}.service"}
    graph = {f"{CORE}.protocol": imports_of("from .service import X", f"{CORE}.protocol", False)}
    assert violations(graph, [f"{CORE}.protocol"], [f"{CORE}.service"]) == [
        f"{CORE}.protocol -> {CORE}.service"
    ]
