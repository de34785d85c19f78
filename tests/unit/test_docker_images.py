"""Which registry an image reference makes the engine dial, by Docker's own rules
(distribution/reference ``splitDockerDomain``), and operators' registry names."""

from __future__ import annotations

import pytest

from instance_rpc_plugins._docker_images import image_registry, registry_host


@pytest.mark.parametrize(
    ("reference", "registry"),
    [
        ("busybox", "docker.io"),
        ("busybox:1.36", "docker.io"),
        ("library/busybox@sha256:" + "0" * 64, "docker.io"),
        ("user/app:1", "docker.io"),
        ("host:5000", "docker.io"),  # the image "host", tagged 5000
        ("localhost/app", "localhost"),
        ("localhost:5000/app", "localhost:5000"),
        ("registry.example/team/app:2", "registry.example"),
        ("127.0.0.1:41421/evil:1", "127.0.0.1:41421"),
        ("[::1]:5000/app", "[::1]:5000"),
        ("Registry/app", "registry"),  # an upper-case first component is a domain
        ("index.docker.io/library/busybox", "docker.io"),
        ("ghcr.io/o/r", "ghcr.io"),
    ],
)
def test_image_registry_reads_references_as_docker_does(reference: str, registry: str) -> None:
    assert image_registry(reference) == registry


def test_registry_host_normalises_and_refuses_urls() -> None:
    assert registry_host("Registry.Example:5000") == "registry.example:5000"
    assert registry_host("index.docker.io") == "docker.io"
    for bad in ("", "https://registry.example", "registry.example/team", "a b"):
        with pytest.raises(ValueError, match="HOST"):
            registry_host(bad)
