"""A plugin's declared Properties, read from its spec document (``GET /info/api.json``)."""

from __future__ import annotations

from typing import Any

import msgspec

from ..client import PluginClient
from ..errors import InstanceRPCError
from ..wire import WireTypeInfo

__all__ = ["declared_schema", "type_info"]


class _Declarations(msgspec.Struct):
    """The ``Types`` member of our daemons' spec documents (absent from Go plugins')."""

    Types: dict[str, WireTypeInfo] = msgspec.field(default_factory=dict)


def type_info(document: bytes, type_name: str) -> WireTypeInfo | None:
    """What the spec document says of ``type_name``'s Properties (``None``: nothing)."""
    try:
        declarations = msgspec.json.decode(document, type=_Declarations)
    except msgspec.ValidationError:
        return None
    return declarations.Types.get(type_name)


async def declared_schema(client: PluginClient) -> dict[str, Any] | None:
    """The JSON Schema the plugin declares for the client's type; ``None`` when it declares none
    or serves no spec document (the plugin's own Validate still decides)."""
    try:
        document = await client.info_json()
    except InstanceRPCError:
        return None
    info = type_info(document, client.type_name)
    if info is None or isinstance(info.PropertiesSchema, msgspec.UnsetType):
        return None
    return info.PropertiesSchema
