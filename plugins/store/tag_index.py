"""A tag index: each ``key=value`` pair to the set of instance IDs whose tags hold it.

DescribeInstances with tags asks for the instances whose tags include *all* of them; with the
index that costs what the answer holds, not what the inventory holds: the postings of the
wanted pairs are intersected, the smallest first, so 100 matches of 100,000 instances cost
about what the same query costs on an inventory of only those 100.

The owner keeps it in step: :meth:`TagIndex.add` when an instance appears (Provision, load),
:meth:`TagIndex.retag` when its tags change (Label), :meth:`TagIndex.remove` when it goes
(Destroy). It is not thread-safe: the backends change and read it on the event loop only.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["TagIndex"]


class TagIndex:
    """``(key, value)`` -> IDs. Empty postings are dropped, so the index never outgrows the
    tags the inventory holds now."""

    def __init__(self) -> None:
        self._postings: dict[tuple[str, str], set[str]] = {}

    def add(self, instance_id: str, tags: Mapping[str, str]) -> None:
        """Index ``instance_id`` under each of its ``tags``."""
        postings = self._postings
        for pair in tags.items():
            found = postings.get(pair)
            if found is None:
                postings[pair] = {instance_id}
            else:
                found.add(instance_id)

    def remove(self, instance_id: str, tags: Mapping[str, str]) -> None:
        """Drop ``instance_id`` from the postings of ``tags`` (the tags it was indexed with)."""
        postings = self._postings
        for pair in tags.items():
            found = postings.get(pair)
            if found is not None:
                found.discard(instance_id)
                if not found:
                    del postings[pair]

    def retag(self, instance_id: str, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        """Move ``instance_id`` from its ``old`` tags to its ``new`` ones, touching only the
        pairs that changed."""
        self.remove(instance_id, {k: v for k, v in old.items() if new.get(k) != v})
        self.add(instance_id, {k: v for k, v in new.items() if old.get(k) != v})

    def select(self, wanted: Mapping[str, str]) -> set[str]:
        """The IDs whose tags include every pair of ``wanted``; ``wanted`` must not be empty
        (an empty filter matches every instance: the caller lists them instead)."""
        if not wanted:
            raise ValueError("an empty filter matches every instance: list them instead")
        postings = []
        for pair in wanted.items():
            found = self._postings.get(pair)
            if not found:
                return set()
            postings.append(found)
        postings.sort(key=len)
        smallest, *others = postings
        if not others:
            return set(smallest)
        return {i for i in smallest if all(i in posting for posting in others)}

    def pairs(self) -> dict[tuple[str, str], frozenset[str]]:
        """A copy of every posting (for checks against a full scan)."""
        return {pair: frozenset(ids) for pair, ids in self._postings.items()}
