"""The docker backend's pulls against a real registry on loopback (Debian's ``docker-registry``):
an untagged image is its ``latest`` tag only, and an error inside the pull's progress stream
fails the Provision (``Pull: always`` never runs the stale local copy)."""

from __future__ import annotations

import io
import secrets
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

from instance_rpc import Spec
from instance_rpc.errors import PluginError
from instance_rpc_plugins.docker import DockerPlugin
from instance_rpc_plugins.docker._engine import split_reference
from tests.docker.conftest import REQUIRE, SERVICE
from tests.docker.engine import Engine
from tests.docker.registry import HOW_TO_ENABLE, Registry, RegistryUnavailable, private_registry
from tests.tools import unavailable_unless_required


@pytest.fixture(scope="module")
def registry(engine: Engine) -> Iterator[Registry]:
    try:
        with private_registry() as started:
            yield started
            return
    except RegistryUnavailable as exc:
        message = f"{HOW_TO_ENABLE} ({exc})"
        unavailable_unless_required(REQUIRE, message)


def _one_file_tar(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


async def push(docker: Any, image: str, repository: str, tag: str) -> None:
    await docker.images.tag(image, repository, tag=tag)
    await docker.images.push(repository, tag=tag)


async def local_tags(docker: Any, repository: str) -> set[str]:
    images = await docker.images.list(filters={"reference": [repository]})
    return {t.rpartition(":")[2] for image in images for t in image.get("RepoTags") or []}


@pytest.mark.parametrize(
    ("reference", "split"),
    [
        ("busybox", ("busybox", "latest")),
        ("busybox:1.36", ("busybox", "1.36")),
        ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest")),
        ("127.0.0.1:5000/app:v2", ("127.0.0.1:5000/app", "v2")),
        ("app@sha256:" + "0" * 64, ("app@sha256:" + "0" * 64, "")),
    ],
)
def test_a_reference_without_a_tag_is_latest(reference: str, split: tuple[str, str]) -> None:
    assert split_reference(reference) == split


async def test_an_untagged_image_pulls_latest_only(
    plugin: DockerPlugin, engine: Engine, docker: Any, registry: Registry
) -> None:
    repository = f"{registry.address}/irpc/{secrets.token_hex(4)}"
    for tag in ("latest", "other"):
        await push(docker, engine.image, repository, tag)
        await docker.images.delete(f"{repository}:{tag}")
    properties = {"Config": {"Image": repository, "Cmd": SERVICE}, "Pull": "always"}
    await plugin.provision(Spec(properties=properties))
    assert await local_tags(docker, repository) == {"latest"}  # not every tag


async def test_an_error_inside_the_pull_stream_fails_the_provision(
    plugin: DockerPlugin, engine: Engine, docker: Any, registry: Registry, owner: str
) -> None:
    repository = f"{registry.address}/irpc/{secrets.token_hex(4)}"
    await push(docker, engine.image, repository, "app")
    properties = {"Config": {"Image": f"{repository}:app", "Cmd": SERVICE}, "Pull": "always"}
    await plugin.provision(Spec(properties=properties))  # the good image, pulled and local
    # a newer image under the same tag whose layer the registry then loses
    newer = f"irpc-newer-{secrets.token_hex(4)}"
    tar = _one_file_tar(secrets.token_bytes(64))
    status, body = engine.request(
        "POST", f"/images/create?fromSrc=-&repo={newer}&tag=1", tar, 60, "application/x-tar"
    )
    assert status == 200, body
    await push(docker, f"{newer}:1", repository, "app")
    await docker.images.tag(engine.image, repository, tag="app")  # the stale copy, local again
    newer_id = (await docker.images.inspect(f"{newer}:1"))["Id"]
    await docker.images.delete(newer_id, force=True)  # the newer image is only in the registry
    for blob in registry.layer_blobs(repository.partition("/")[2], "app"):
        blob.unlink()
    before = {c.id for c in await docker.containers.list(all=True)}
    with pytest.raises(PluginError, match=rf"pull image {repository}:app: .*"):
        await plugin.provision(Spec(properties=properties, tags={"stale": "no"}))
    assert {c.id for c in await docker.containers.list(all=True)} == before  # no stale one
    assert await plugin.describe_instances({"stale": "no"}) == []
