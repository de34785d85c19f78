"""Which containers are the ``docker`` backend's own.

The engine filters containers on the owner label, but a container takes its image's labels: an
image committed from a container of ours (``docker commit``) hands the owner label to every
container made from it. Such a container's creation token is its image's, where one the backend
makes has a new one (``plugins/_docker_labels.py``, :func:`inherited`); telling them apart needs
the image's labels, read once per image ID (an image ID is the digest of the image's config, so
its labels never change) and kept for the backend's life.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from ._docker_engine import Engine
from ._docker_labels import OWNER, inherited

__all__ = ["Ownership"]

_CACHED_IMAGES = 4096  # images whose labels are kept; beyond, the cache starts over
_INSPECT_CONCURRENCY = 8


class Ownership:
    """Ownership of containers by the plugin named ``owner`` on ``engine``."""

    def __init__(self, engine: Engine, owner: str) -> None:
        self._engine = engine
        self.owner = owner
        self._image_labels: dict[str, Mapping[str, str]] = {}

    async def _learn(self, image_ids: Iterable[str]) -> None:
        """Read the labels of the images not known yet (a gone image is left unknown)."""
        missing = sorted({i for i in image_ids if i and i not in self._image_labels})
        limit = asyncio.Semaphore(_INSPECT_CONCURRENCY)

        async def read(image_id: str) -> tuple[str, dict[str, str] | None]:
            async with limit:
                return image_id, await self._engine.image_labels(image_id)

        for image_id, labels in await asyncio.gather(*(read(i) for i in missing)):
            if labels is not None:
                if len(self._image_labels) >= _CACHED_IMAGES:
                    self._image_labels.clear()
                self._image_labels[image_id] = labels

    def _owned(self, labels: Mapping[str, str], image_id: str) -> bool:
        if labels.get(OWNER) != self.owner:
            return False
        return not inherited(labels, self._image_labels.get(image_id, {}))

    async def owns(self, labels: Mapping[str, str], image_id: str | None) -> bool:
        """Whether a container with these ``labels``, made from image ``image_id`` (the
        inspect document's ``Image``), is ours. Raises ``EngineError`` if the engine fails."""
        if labels.get(OWNER) != self.owner:
            return False
        await self._learn([image_id or ""])
        return self._owned(labels, image_id or "")

    async def keep_ours(self, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The containers of an engine list (``Labels``, ``ImageID``) that are ours."""
        await self._learn(str(c.get("ImageID") or "") for c in listed)
        return [
            container
            for container in listed
            if self._owned(container.get("Labels") or {}, str(container.get("ImageID") or ""))
        ]
