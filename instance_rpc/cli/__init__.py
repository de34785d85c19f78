"""The ``instance-rpc`` command line."""

from . import bench as _bench  # noqa: F401
from . import conformance as _conformance  # noqa: F401  (each import registers its command)
from . import describe as _describe  # noqa: F401
from . import destroy as _destroy  # noqa: F401
from . import info as _info  # noqa: F401
from . import label as _label  # noqa: F401
from . import plugins as _plugins  # noqa: F401
from . import provision as _provision  # noqa: F401
from . import serve as _serve  # noqa: F401
from . import validate as _validate  # noqa: F401
from ._app import main

__all__ = ["main"]
