"""Instance tags of the ``ec2`` backend: EC2's limits, our bookkeeping tags, and the filters the
API can express.

Bookkeeping tags (set at launch, never described as tags, refused from callers):

- ``instance-rpc.owner``: the plugin's name; every call sees only instances with its own, so
  daemons serving one name share a fleet and daemons of other names never touch it;
- ``instance-rpc.logical-id``: the Spec's LogicalID;
- ``instance-rpc.generation``: which life of the LogicalID the instance is (its ClientToken's
  counter, see ``_tokens.py``);
- ``instance-rpc.attachments``: the Spec's attachments EC2 does not attach (JSON).

EC2's limits (refused with :class:`PluginError` naming the tag): at most 50 tags an instance
(ours included), keys of 1 to 128 characters, values of at most 256, no key starting ``aws:``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from instance_rpc.errors import PluginError

__all__ = [
    "ATTACHMENTS",
    "BOOKKEEPING",
    "GENERATION",
    "LOGICAL_ID",
    "MAX_KEY",
    "MAX_TAGS",
    "MAX_VALUE",
    "OWNER",
    "all_tags",
    "api_filters",
    "check_tags",
    "matches",
    "tag_list",
    "tags_of",
]

OWNER = "instance-rpc.owner"
LOGICAL_ID = "instance-rpc.logical-id"
GENERATION = "instance-rpc.generation"
ATTACHMENTS = "instance-rpc.attachments"
BOOKKEEPING = frozenset({OWNER, LOGICAL_ID, GENERATION, ATTACHMENTS})

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
_WILDCARDS = frozenset("*?\\")


def check_tags(tags: Mapping[str, str], where: str, *, ours: int = 0) -> None:
    """Refuse tags EC2 cannot hold or that are ours; ``ours``: bookkeeping tags the instance
    carries besides them (they count towards the 50).

    Raises :class:`PluginError`, e.g. ``Spec.Tags: tag key 'aws:x': the aws: prefix is
    reserved by AWS``.
    """
    for key, value in tags.items():
        if key in BOOKKEEPING:
            raise PluginError(f"{where}: tag {key!r} is reserved for the ec2 backend")
        if key.lower().startswith("aws:"):
            raise PluginError(f"{where}: tag key {key!r}: the aws: prefix is reserved by AWS")
        if not 1 <= len(key) <= MAX_KEY:
            raise PluginError(
                f"{where}: tag key {key[:40]!r}...: {len(key)} characters, EC2 takes 1 to {MAX_KEY}"
                if len(key) > MAX_KEY
                else f"{where}: an empty tag key: EC2 takes keys of 1 to {MAX_KEY} characters"
            )
        if len(value) > MAX_VALUE:
            raise PluginError(
                f"{where}: tag {key!r}: its value has {len(value)} characters, EC2 takes at "
                f"most {MAX_VALUE}"
            )
    if len(tags) + ours > MAX_TAGS:
        raise PluginError(
            f"{where}: {len(tags)} tags and the backend's {ours}: EC2 takes at most "
            f"{MAX_TAGS} tags an instance"
        )


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as the API's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def all_tags(instance: Mapping[str, Any]) -> dict[str, str]:
    """Every tag of an instance as the API describes it."""
    return {str(t["Key"]): str(t.get("Value") or "") for t in instance.get("Tags") or ()}


def tags_of(instance: Mapping[str, Any]) -> dict[str, str]:
    """An instance's tags as described to callers: its tags less the bookkeeping ones."""
    return {k: v for k, v in all_tags(instance).items() if k not in BOOKKEEPING}


def _expressible(text: str) -> bool:
    return bool(text) and not (_WILDCARDS & set(text))


def api_filters(owner: str, wanted: Mapping[str, str]) -> list[dict[str, Any]]:
    """``tag:`` filters for the ownership tag and each wanted tag the API can match exactly.

    An EC2 filter value takes ``*`` and ``?`` as wildcards and cannot match an empty value:
    such tags are filtered by key only (``tag-key``), and :func:`matches` finishes the match.
    """
    filters: list[dict[str, Any]] = [{"Name": f"tag:{OWNER}", "Values": [owner]}]
    for key, value in sorted(wanted.items()):
        if not _expressible(key):
            continue
        if _expressible(value):
            filters.append({"Name": f"tag:{key}", "Values": [value]})
        else:
            filters.append({"Name": "tag-key", "Values": [key]})
    return filters


def matches(tags: Mapping[str, str], wanted: Iterable[tuple[str, str]]) -> bool:
    """Whether ``tags`` hold every wanted key with its exact value."""
    return all(key in tags and tags[key] == value for key, value in wanted)
