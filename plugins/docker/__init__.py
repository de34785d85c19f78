"""The docker backend: each instance is a container the Docker Engine runs from ``Properties``
(image, command, environment, resources), labelled so that a restarted daemon finds its own and
no one else's (aiodocker, the Engine API on aiohttp).

Imports from the library only ``instance_rpc.spi``, ``types`` and ``errors``, and the shared
store (``instance_rpc_plugins.store``).
"""

from .plugin import DockerPlugin

__all__ = ["DockerPlugin"]
