"""Running the event loop: uvloop by default, asyncio's own loop when asked.

uvloop (a regular dependency wherever it is built: not on Windows) runs the same asyncio code with
its transport and scheduling written in C. ``instance-rpc serve``, the client commands and the
benchmark run on the loop chosen here. ``INSTANCE_RPC_LOOP=asyncio`` keeps the standard loop;
``INSTANCE_RPC_LOOP=uvloop`` (or unset, or empty) asks for uvloop, and falls back to the standard
loop where uvloop is not installed. Any other value is logged and treated as unset.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

__all__ = ["ENVIRONMENT_VARIABLE", "LOOP_NAMES", "loop_factory", "loop_name", "run"]

ENVIRONMENT_VARIABLE = "INSTANCE_RPC_LOOP"
LOOP_NAMES = ("uvloop", "asyncio")

logger = logging.getLogger("instance_rpc.eventloop")

_T = TypeVar("_T")


def _asked(environ: Mapping[str, str]) -> str:
    value = environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    if value in LOOP_NAMES:
        return value
    if value:
        logger.warning(
            "%s=%r is not one of %s: using the default (uvloop)",
            ENVIRONMENT_VARIABLE,
            value,
            ", ".join(LOOP_NAMES),
        )
    return "uvloop"


def loop_factory(
    environ: Mapping[str, str] | None = None,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory unless ``INSTANCE_RPC_LOOP=asyncio`` (in ``environ``, default
    ``os.environ``) or uvloop is not installed; ``None`` means asyncio's standard loop."""
    if _asked(os.environ if environ is None else environ) == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(environ: Mapping[str, str] | None = None) -> str:
    """``"uvloop"`` or ``"asyncio"``: the loop :func:`run` would use now."""
    return "asyncio" if loop_factory(environ) is None else "uvloop"


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)``, on the loop :func:`loop_factory` chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
