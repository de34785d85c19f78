"""Every public module path of the flat layout still imports, with every name it exported.

The table (old_public_names.json) holds the flat layout's public modules and their ``__all__``,
as released, and the two backends that became packages; a module that moved is reached through
its old path (instance_rpc/_moved.py) and is the module at its new path.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from instance_rpc._moved import MOVED

OLD_PUBLIC_NAMES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "old_public_names.json").read_text()
)


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
