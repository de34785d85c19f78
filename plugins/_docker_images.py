"""Image references as the Docker engine reads them: which registry an image name makes the
engine dial (``github.com/distribution/reference``, ``splitDockerDomain``)."""

from __future__ import annotations

__all__ = ["DEFAULT_REGISTRY", "image_registry", "registry_host"]

DEFAULT_REGISTRY = "docker.io"
_LEGACY_DEFAULT_REGISTRY = "index.docker.io"


def image_registry(reference: str) -> str:
    """The registry ``reference`` names, lower-cased: its first ``/``-separated component when
    that contains ``.`` or ``:``, is ``localhost`` or has an upper-case letter; else
    ``docker.io`` (``busybox``, ``library/busybox``, ``user/app:1``; ``host:5000`` alone is
    the image ``host`` tagged ``5000``). ``index.docker.io`` is ``docker.io``."""
    first, slash, _ = reference.partition("/")
    is_domain = "." in first or ":" in first or first == "localhost" or first.lower() != first
    if not slash or not is_domain:
        return DEFAULT_REGISTRY
    domain = first.lower()
    return DEFAULT_REGISTRY if domain == _LEGACY_DEFAULT_REGISTRY else domain


def registry_host(value: str) -> str:
    """An operator's registry (``HOST[:PORT]``) as :func:`image_registry` reports them.
    Raises ValueError for a value that is not one (a URL, a path, an empty string)."""
    host = value.strip().lower()
    if not host or any(c in host for c in "/@ \t"):
        raise ValueError(f"{value!r} is not a registry HOST[:PORT] (no scheme, no path)")
    return DEFAULT_REGISTRY if host == _LEGACY_DEFAULT_REGISTRY else host
