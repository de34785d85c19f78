"""The ``instance-rpc`` command line."""

from . import conformance as _conformance  # noqa: F401  (registers the command)
from . import serve as _serve  # noqa: F401  (registers the command)
from ._app import main

__all__ = ["main"]
