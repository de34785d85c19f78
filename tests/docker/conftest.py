"""Fixtures of the docker tests: one private engine per session (skipped, with how to enable
it, where the machine cannot run one; a failure instead when INSTANCE_RPC_REQUIRE_DOCKER=1),
a docker backend on it per test, and an engine client to check what the engine itself says."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from instance_rpc_plugins.docker import DockerPlugin
from tests.docker.engine import HOW_TO_ENABLE, Engine, EngineUnavailable, private_engine
from tests.tools import unavailable_unless_required

REQUIRE = "INSTANCE_RPC_REQUIRE_DOCKER"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        import aiodocker  # noqa: F401
    except ImportError:
        reason = "aiodocker is not installed (pip install '.[docker]')"
    else:
        reason = ""
    try:
        if reason:
            raise EngineUnavailable(reason)
        with private_engine() as started:
            yield started
            return
    except EngineUnavailable as exc:
        message = f"{HOW_TO_ENABLE} ({exc})"
        unavailable_unless_required(REQUIRE, message)


@pytest.fixture
def owner() -> str:
    """A plugin name of the test's own: containers of other tests are never its business."""
    return f"test-{secrets.token_hex(4)}"


SERVICE = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]
"""A container command that runs until SIGTERM, and ends at once on it."""


def props(engine: Engine, **more: Any) -> dict[str, Any]:
    """Properties for the test image: a container that runs until it is stopped."""
    config = {"Image": engine.image, "Cmd": SERVICE, **more.pop("Config", {})}
    return {"Config": config, "StopTimeout": 5, **more}


@pytest.fixture
async def plugin(engine: Engine, owner: str, tmp_path: Path) -> AsyncIterator[DockerPlugin]:
    backend = DockerPlugin(dir=tmp_path / "state", name=owner, docker_host=engine.host)
    yield backend
    await backend.aclose()


@pytest.fixture
async def docker(engine: Engine) -> AsyncIterator[Any]:
    """An aiodocker client of the engine: what the engine says, without the backend between."""
    import aiodocker

    client = aiodocker.Docker(url=engine.host)
    yield client
    await client.close()
