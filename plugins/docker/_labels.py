"""Container labels of the ``docker`` backend: its bookkeeping labels, and the overlay that
makes Label work although an engine never changes a container's labels after creation.

Bookkeeping labels (set at creation, never described as tags):

- ``instance-rpc.plugin``: the owning plugin's name; every list and every call filters on it,
  so two daemons with different names on one engine never see each other's containers;
- ``instance-rpc.logical-id``: the Spec's LogicalID (the container's name too);
- ``instance-rpc.spec``: the Spec's fingerprint;
- ``instance-rpc.properties``: the Properties, as the JSON they were provisioned with;
- ``instance-rpc.creation``: a random token of the container's own. A container takes its
  image's labels, so one made (outside the backend) from an image committed from a container of
  ours carries all of the above; it also carries that container's token, which is how
  :func:`inherited` tells it apart (a container the backend makes always gets a new token).

Callers may set none of them: not as tags, not as ``Config.Labels``.

The overlay keeps, per container ID, the labels given by Label since creation, in a JSON
document in the backend's state directory (written atomically, see ``plugins/_store.py``). A
container's tags are its labels (less the bookkeeping ones) with its overlay merged over them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping

import msgspec

from instance_rpc.errors import PluginError

from ..store.documents import DocumentStore

__all__ = [
    "BOOKKEEPING",
    "CREATION",
    "LOGICAL_ID",
    "OWNER",
    "PROPERTIES",
    "SPEC",
    "LabelOverlay",
    "engine_side",
    "inherited",
    "refuse_reserved",
    "tags_of",
]

OWNER = "instance-rpc.plugin"
LOGICAL_ID = "instance-rpc.logical-id"
SPEC = "instance-rpc.spec"
PROPERTIES = "instance-rpc.properties"
CREATION = "instance-rpc.creation"
BOOKKEEPING = frozenset({OWNER, LOGICAL_ID, SPEC, PROPERTIES, CREATION})


def refuse_reserved(keys: Iterable[str], where: str) -> None:
    """Raise :class:`PluginError` if a caller's tag or label would set a bookkeeping label
    (``where`` names the field, e.g. ``$.Config.Labels``)."""
    taken = sorted(set(keys) & BOOKKEEPING)
    if taken:
        raise PluginError(f"{where}: label {taken[0]!r} is reserved for the docker backend")


ENGINE_FILTER_TERM_BYTES = 512
ENGINE_FILTER_BYTES = 4096
"""The longest ``label=k=v`` term, and the most of them, sent in a list's filter: the engine
reads the filter from the request line, which it refuses past a few KiB (431)."""


def engine_side(wanted: Mapping[str, str], overlaid: Iterable[str]) -> dict[str, str]:
    """The tags of a query the engine's label filter can express: not a key that contains
    ``=`` (the filter splits at the first one), not a key some Label overlay sets, and within
    :data:`ENGINE_FILTER_TERM_BYTES` each and :data:`ENGINE_FILTER_BYTES` in all. The caller
    matches every tag itself as well; this only narrows what the engine sends."""
    skip = set(overlaid)
    chosen: dict[str, str] = {}
    total = 0
    for key, value in sorted(wanted.items(), key=lambda kv: len(kv[0]) + len(kv[1])):
        size = len(key.encode()) + len(value.encode()) + 1
        if "=" in key or key in skip or size > ENGINE_FILTER_TERM_BYTES:
            continue
        if total + size > ENGINE_FILTER_BYTES:
            break
        chosen[key] = value
        total += size
    return chosen


def inherited(labels: Mapping[str, str], image_labels: Mapping[str, str]) -> bool:
    """Whether a container's ownership label came from its image (a committed container of
    ours) rather than from this backend: the image carries an owner, and the container's
    creation token is the image's (both absent for images of containers made before tokens)."""
    return OWNER in image_labels and labels.get(CREATION) == image_labels.get(CREATION)


def tags_of(labels: Mapping[str, str] | None, overlay: Mapping[str, str] | None) -> dict[str, str]:
    """A container's tags: its labels less the bookkeeping ones, the overlay merged over them."""
    tags = {k: v for k, v in (labels or {}).items() if k not in BOOKKEEPING}
    if overlay:
        tags.update(overlay)
    return tags


class _Overlay(msgspec.Struct):
    Labels: dict[str, str]


_DECODER = msgspec.json.Decoder(_Overlay)
_ENCODER = msgspec.json.Encoder()


class LabelOverlay:
    """Label's labels by container ID, kept in ``directory`` (locked while open)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._store = DocumentStore(directory)
        self._labels = {
            cid: doc.Labels for cid, doc in self._store.load_all(_DECODER.decode).items()
        }
        self._lock = asyncio.Lock()

    @property
    def directory(self) -> os.PathLike[str]:
        return self._store.directory

    def close(self) -> None:
        self._store.close()

    def get(self, container_id: str) -> dict[str, str]:
        return self._labels.get(container_id, {})

    def keys(self) -> set[str]:
        """Every label key some container's overlay sets: the engine cannot filter on those."""
        return {key for labels in self._labels.values() for key in labels}

    async def merge(self, container_id: str, labels: Mapping[str, str]) -> None:
        async with self._lock:
            merged = {**self.get(container_id), **labels}
            document = _ENCODER.encode(_Overlay(merged))
            await asyncio.to_thread(self._store.write, container_id, document)
            self._labels[container_id] = merged

    async def forget(self, container_id: str) -> None:
        async with self._lock:
            if self._labels.pop(container_id, None) is not None:
                await asyncio.to_thread(self._store.remove, container_id)

    def container_ids(self) -> set[str]:
        return set(self._labels)

    async def forget_all(self, container_ids: set[str]) -> None:
        """Forget the overlays of containers that are gone (removed behind our back)."""
        for container_id in sorted(container_ids):
            await self.forget(container_id)
