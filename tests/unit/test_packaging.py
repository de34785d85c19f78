"""What the distribution installs: the packages listed in pyproject.toml are exactly the source
tree's, and the shipped backends install as ``instance_rpc_plugins``, never as a top-level
``plugins``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import instance_rpc_plugins

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_under(directory: Path, name: str) -> set[str]:
    return {
        ".".join([name, *init.parent.relative_to(directory).parts])
        for init in directory.rglob("__init__.py")
    }


def test_every_package_of_the_tree_is_listed_and_nothing_else() -> None:
    in_tree = _packages_under(ROOT / "instance_rpc", "instance_rpc") | _packages_under(
        ROOT / "plugins", "instance_rpc_plugins"
    )
    assert set(SETUPTOOLS["packages"]) == in_tree
    assert "plugins" not in SETUPTOOLS["packages"]


def test_the_backends_install_from_plugins_under_the_project_name() -> None:
    assert SETUPTOOLS["package-dir"] == {"instance_rpc_plugins": "plugins"}
    assert Path(instance_rpc_plugins.__file__).parent == ROOT / "plugins"
    assert (ROOT / "plugins" / "py.typed").is_file()
    assert SETUPTOOLS["package-data"]["instance_rpc_plugins"] == ["py.typed"]
