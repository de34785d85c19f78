"""Running the event loop: uvloop when installed (``pip install instance-rpc[speed]``).

uvloop runs the same asyncio code with its transport and scheduling written in C. Setting
``INSTANCE_RPC_LOOP=asyncio`` keeps the standard loop even when uvloop is installed.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ENVIRONMENT_VARIABLE", "loop_factory", "loop_name", "run"]

ENVIRONMENT_VARIABLE = "INSTANCE_RPC_LOOP"

_T = TypeVar("_T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory if it is installed and not turned off, else ``None`` (asyncio's)."""
    if os.environ.get(ENVIRONMENT_VARIABLE, "") == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)``, on uvloop when :func:`loop_factory` offers it."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
