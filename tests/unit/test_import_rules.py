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

DOMAIN = {
    "backends",
    "errors",
    "field_paths",
    "handshake",
    "properties_schema",
    "specfile",
    "specyaml",
    "spi",
    "types",
    "wire",
    "_version",
}
"""The modules at the top of the package besides its public face."""
FACE = {"__init__", "__main__", "_moved"}
"""The public face: what the package exports, ``python -m``, the old import paths."""
LAYERS = {
    "domain": 0,
    "observability": 1,
    "net": 1,
    "rpc": 2,
    "client": 3,
    "server": 3,
    "testing": 4,
    "cli": 5,
}
"""Each layer (a folder, or the domain at the top) and its height: a module imports only from its
own layer and from lower ones; layers of one height sit side by side and import nothing of each
other."""
BACKEND_STORE = f"{BACKENDS}.store"


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


def layer_of(name: str) -> str:
    """The layer of a module (or of a name imported from a package) of the library."""
    parts = name.split(".")
    if len(parts) == 1 or parts[0] != CORE:
        return "face"
    if parts[1] in LAYERS:
        return parts[1]
    return "domain" if parts[1] in DOMAIN else "face"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``module -> import`` for each import of the library that does not point down (or within
    the module's own layer); the public face is governed by rules of its own."""
    found = []
    for module, imported_set in graph.items():
        own = layer_of(module)
        if own == "face":
            continue
        for imported in sorted(imported_set):
            if not _within(imported, [CORE]):
                continue
            theirs = layer_of(imported)
            if theirs == "face" or (theirs != own and LAYERS[theirs] >= LAYERS[own]):
                found.append(f"{module} -> {imported}")
    return found


def test_every_import_of_the_library_points_down_the_layers() -> None:
    assert upward_imports(LIBRARY) == []


def test_the_top_of_the_package_holds_only_the_domain_and_the_public_face() -> None:
    top = {path.stem for path in (ROOT / CORE).glob("*.py")}
    assert top == DOMAIN | FACE
    folders = {path.parent.name for path in (ROOT / CORE).glob("*/__init__.py")}
    assert folders == set(LAYERS) - {"domain"}


def test_each_layer_says_what_it_does_and_what_it_may_import() -> None:
    for folder in set(LAYERS) - {"domain"}:
        docstring = ast.get_docstring(ast.parse((ROOT / CORE / folder / "__init__.py").read_text()))
        assert docstring, folder


def test_the_public_face_imports_neither_the_command_nor_testing() -> None:
    face = [CORE, f"{CORE}._moved"]
    assert violations(LIBRARY, face, [f"{CORE}.cli", f"{CORE}.testing"]) == []


def imports_of_the_core_beyond(
    graph: dict[str, set[str]], governed: Iterable[str], allowed: set[str]
) -> list[str]:
    """``module -> import`` for each module of ``governed`` importing a module of the library
    other than those ``allowed``."""
    return [
        f"{module} -> {imported}"
        for module in governed
        for imported in sorted(graph[module])
        if _within(imported, [CORE]) and imported not in allowed
    ]


def test_backends_import_from_the_core_only_spi_types_and_errors() -> None:
    allowed = _core(["spi", "types", "errors"])
    assert imports_of_the_core_beyond(PLUGINS, PLUGINS, allowed) == []


def _backend_of(module: str) -> str:
    """A backend's package (``instance_rpc_plugins.docker``) or module (``...memory``)."""
    return ".".join(module.split(".")[:2])


def test_a_backend_imports_of_the_others_only_the_store() -> None:
    found = [
        f"{module} -> {imported}"
        for module, imported_set in PLUGINS.items()
        if module != BACKENDS
        for imported in sorted(imported_set)
        if _within(imported, [BACKENDS])
        and _backend_of(imported) not in (_backend_of(module), BACKEND_STORE)
    ]
    assert found == []


def test_the_store_imports_from_the_core_only_types_and_errors() -> None:
    store = [m for m in PLUGINS if _within(m, [BACKEND_STORE])]
    assert imports_of_the_core_beyond(PLUGINS, store, _core(["types", "errors"])) == []


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
    assert imports_of_the_core_beyond(LIBRARY, core, core) == []


def _folder(name: str) -> list[str]:
    return [m for m in LIBRARY if _within(m, [f"{CORE}.{name}"])]


def test_the_rpc_layer_knows_no_transport() -> None:
    assert violations(LIBRARY, _folder("rpc"), ["aiohttp", "jsonrpcclient"]) == []


def test_the_json_rpc_envelope_knows_no_instance_service() -> None:
    governed = _core(["rpc.envelope", "rpc.protocol", "rpc.streaming"])
    assert violations(LIBRARY, governed, _core(["rpc.service"])) == []


def test_the_client_side_uses_no_json_rpc_server() -> None:
    assert violations(LIBRARY, _folder("client"), ["jsonrpcserver"]) == []


def test_the_server_side_uses_no_json_rpc_client() -> None:
    assert violations(LIBRARY, _folder("server"), ["jsonrpcclient"]) == []


def test_the_proxy_reaches_the_plugin_only_through_the_transport() -> None:
    forbidden = ["aiohttp", f"{CORE}.client.delivery"]
    assert violations(LIBRARY, _core(["client.plugin_client"]), forbidden) == []


def test_the_transport_carries_bytes_not_json_rpc() -> None:
    forbidden = ["jsonrpcclient", *_core(["wire", "client.responses", "client.plugin_client"])]
    assert violations(LIBRARY, _core(["client.transport"]), forbidden) == []


@pytest.mark.parametrize("directory", ["tests", "examples", "benchmarks"])
def test_nothing_imports_the_backends_under_their_folder_name(directory: str) -> None:
    graph = _graph(directory, directory)
    assert violations(graph, graph, ["plugins"]) == []


def test_a_forbidden_import_is_found() -> None:
    source = "from ..cli import main\nfrom .. import handshake\n"
    found = imports_of(source, f"{CORE}.testing.daemon", is_package=False)
    assert found == {f"{CORE}.cli", f"{CORE}.handshake"}
    graph = {
        f"{CORE}.rpc.protocol": imports_of("from .service import X", f"{CORE}.rpc.protocol", False)
    }
    assert violations(graph, [f"{CORE}.rpc.protocol"], [f"{CORE}.rpc.service"]) == [
        f"{CORE}.rpc.protocol -> {CORE}.rpc.service"
    ]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("observability.metrics", "from ..rpc.service import InstanceService"),
        ("server.app", "from ..client import PluginClient"),
        ("client.transport", "from ..server.listeners import bind_tcp"),
        ("net.tls", "from ..observability.logs import redact"),
        ("rpc.protocol", "from .. import PluginClient"),
        ("errors", "from .net.discovery import plugins_dir"),
    ],
)
def test_an_upward_or_sideways_import_is_found(module: str, source: str) -> None:
    name = f"{CORE}.{module}"
    assert upward_imports({name: imports_of(source, name, is_package=False)}) != []
