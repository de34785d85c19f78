"""A project of a user's own that installs instance-rpc type-checks against it with
``mypy --strict``: ``py.typed`` is found, installed from the clone as a package and as an editable
install made the way the docs say (setuptools' ``editable_mode=strict``: its default editable
mode installs an import hook, which mypy cannot follow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MYPY = Path(sys.executable).parent / "mypy"

USER_CODE = '''\
"""A user's orchestrator, typed against instance-rpc."""

import asyncio
from typing import Any

from instance_rpc import TERMINATION, InstanceNotFound, PluginClient, Spec, load_properties


async def make_one(target: str) -> str:
    async with PluginClient(target) as plugin:
        iid = await plugin.provision(Spec(tags={"group": "web"}, properties={"size": "small"}))
        if iid is None:  # provision() returns str | None: a plugin may answer without an ID
            raise RuntimeError("the plugin created an instance but returned no ID")
        for d in await plugin.describe_instances({"group": "web"}, properties=True):
            size: Any = load_properties(d.properties)
            print(d.id, d.tags, size)
        return iid


async def remove(target: str, iid: str) -> bool:
    async with PluginClient(target) as plugin:
        try:
            await plugin.destroy(iid, TERMINATION)
        except InstanceNotFound as exc:
            print("already gone:", exc.instance_id)
            return False
        return True


if __name__ == "__main__":
    print(asyncio.run(make_one("instance-memory")))
'''

WRONG_CODE = """\
from instance_rpc import PluginClient, Spec


async def make_one(target: str) -> str:
    async with PluginClient(target) as plugin:
        return await plugin.provision(Spec())  # str | None is not str
"""


_MADE = (".venv", "build", "site", "*.egg-info", ".*_cache", "__pycache__", ".git")


def _copy_of_the_clone(destination: Path) -> Path:
    """The clone's tracked files (no build/, .venv or egg-info of ours), as a user's clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=60
    )
    if listed.returncode != 0:  # not a git checkout: the tree without what tools made in it
        shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*_MADE))
        return destination
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(word) for word in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def _mypy(python: Path, project: Path, module: str) -> subprocess.CompletedProcess[str]:
    """Our mypy, checking ``module`` of ``project`` against what ``python``'s environment has
    installed (as the user's own mypy in that environment would)."""
    return _run(
        MYPY, "--strict", "--python-executable", python, "--no-incremental", module, cwd=project
    )


@pytest.mark.parametrize("how", ["package", "editable"])
def test_a_users_project_type_checks_against_the_installed_package(
    how: str, tmp_path: Path
) -> None:
    clone = _copy_of_the_clone(tmp_path / "instance-rpc")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    install: list[str | Path] = [python, "-m", "pip", "install", "--quiet"]
    if how == "editable":
        install += ["--config-settings", "editable_mode=strict", "-e", clone]
    else:
        install += [clone]
    installed = _run(*install, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    project = tmp_path / "my-orchestrator"
    project.mkdir()
    (project / "orchestrator.py").write_text(USER_CODE)
    (project / "wrong.py").write_text(WRONG_CODE)
    checked = _mypy(python, project, "orchestrator.py")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 1 source file" in checked.stdout
    # the check has teeth: without the ``if iid is None`` it fails, so the types were read
    refused = _mypy(python, project, "wrong.py")
    assert refused.returncode == 1, refused.stdout
    assert 'Incompatible return value type (got "str | None", expected "str")' in refused.stdout

    imported = _run(python, "-c", "import instance_rpc_plugins.memory", cwd=project)
    assert imported.returncode == 0, imported.stderr
