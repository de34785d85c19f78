"""``serve``'s backends: loading each by name with the options it takes, its state directory
(``--dir``), the docker backend's policy options, and closing what was loaded when start-up
fails.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..backends import UnknownBackend, backend_factory
from ..errors import InstanceRPCError
from ..spi import Plugin
from ._app import fail

__all__ = [
    "StartupFailed",
    "close_backends",
    "docker_policy_options",
    "ec2_options",
    "failure_reason",
    "load_backends",
    "offered_options",
    "state_options",
]

# The serve command's logger name, from before the split.
logger = logging.getLogger("instance_rpc.cli.serve")


_F = TypeVar("_F", bound=Callable[..., Any])


def docker_policy_options(command: _F) -> _F:
    """Add ``--docker-allow`` and ``--docker-registry`` (the docker backend's policy) and
    ``--docker-engine-timeout``."""
    allow = click.option(
        "--docker-allow",
        "docker_allow",
        multiple=True,
        metavar="CATEGORY[=VALUE]",
        help="Let docker backend callers ask for what reaches the host, refused by default: "
        "privileged, host-namespaces, capabilities, security-options, devices, "
        "host-binds=PREFIX, volumes-from, sysctls, runtime, cgroup-parent (repeatable; "
        "docs/operations/security.md: The docker policy).",
    )
    registry = click.option(
        "--docker-registry",
        "docker_registry",
        multiple=True,
        metavar="HOST[:PORT]",
        help="Docker images only from this registry (repeatable); an image naming another "
        "is refused. Default: any registry.",
    )
    engine_timeout = click.option(
        "--docker-engine-timeout",
        "docker_engine_timeout",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Deadline of each call of the docker backend to its engine (a stop: plus the "
        "container's StopTimeout; a pull: between two progress messages); the error names the "
        "engine. Default: 30.",
    )
    return allow(registry(engine_timeout(command)))


def ec2_options(command: _F) -> _F:
    """Add ``--ec2-endpoint``, ``--ec2-deadline`` and ``--ec2-rate`` (the ec2 backend's)."""
    endpoint = click.option(
        "--ec2-endpoint",
        "ec2_endpoint",
        metavar="URL",
        help="EC2 API of the ec2 backend. Default: $AWS_ENDPOINT_URL_EC2, else the region's.",
    )
    deadline = click.option(
        "--ec2-deadline",
        "ec2_deadline",
        metavar="SECONDS",
        type=click.FloatRange(min=1),
        help="Seconds an ec2 backend call may take, API retries and waits included (default 60).",
    )
    rate = click.option(
        "--ec2-rate",
        "ec2_rate",
        multiple=True,
        metavar="ACTION=RATE:BURST",
        help="EC2 API requests a second and burst, per action (repeatable; ACTION: an EC2 "
        "action, Describe* or *). Default: RunInstances=2:5, Describe*=20:100, *=5:200.",
    )
    return endpoint(deadline(rate(command)))


def offered_options(**options: Any) -> dict[str, Any]:
    """The backend options ``serve`` was given (None or empty: not given), for
    :func:`load_backends`."""
    return {name: value for name, value in options.items() if value}


class StartupFailed(Exception):
    """Start-up cannot go on; the message is the one line ``serve`` ends with."""


def _parse_dirs(values: tuple[str, ...]) -> tuple[Path | None, dict[str, Path]]:
    """``--dir DIR`` (the base) and ``--dir BACKEND=DIR`` (one backend's own)."""
    base: Path | None = None
    own: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and "/" not in name:
            own[name] = Path(path).expanduser()
        elif base is None:
            base = Path(value).expanduser()
        else:
            fail(f"--dir given twice without a backend name: {str(base)!r} and {value!r}")
    return base, own


def _parameters(factory: Any) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def state_options(
    takes_dir: list[str], dirs: tuple[str, ...], socket_name: str
) -> dict[str, dict[str, Any]]:
    """Where each backend in ``takes_dir`` keeps its state, as options to its factory.

    ``--dir BACKEND=DIR`` names one backend's directory. The others share a base: ``--dir DIR``,
    else the backends' own default, ``$XDG_STATE_HOME/instance-rpc/<socket name>``. With one
    such backend the base is its directory; with several, ``<base>/<backend>`` is each one's.
    """
    base, own = _parse_dirs(dirs)
    stray = sorted(set(own) - set(takes_dir))
    if stray:
        fail(f"--dir {stray[0]}=...: no served backend {stray[0]!r} keeps state in a directory")
    options: dict[str, dict[str, Any]] = {name: {"dir": path} for name, path in own.items()}
    several = len(takes_dir) > 1
    for name in takes_dir:
        if name in options:
            continue
        if base is not None:
            options[name] = {"dir": base / name if several else base}
        else:
            options[name] = {"name": f"{socket_name}/{name}" if several else socket_name}
    return options


def load_backends(
    names: tuple[str, ...],
    dirs: tuple[str, ...],
    socket_name: str,
    offered: dict[str, Any] | None = None,
) -> dict[str, Plugin]:
    """The first backend is the default (``Type: ""``); with several, each answers by name too.

    Each factory gets the keyword options it accepts: its state directory (``dir`` or ``name``),
    its ``name`` (the socket's, or ``<socket>/<backend>`` with several), and each of ``offered``
    (options of ``serve`` such as ``docker_host``; one that no backend accepts is refused).

    Raises :class:`StartupFailed`; the backends made before the failing one are closed first.
    """
    unique = list(dict.fromkeys(names))
    factories = {name: _factory(name) for name in unique}
    parameters = {name: _parameters(factories[name]) for name in unique}
    takes_dir = [name for name in unique if "dir" in parameters[name]]
    options = state_options(takes_dir, dirs, socket_name)
    extra = offered or {}
    for option in extra:
        if not any(option in parameters[name] for name in unique):
            fail(f"--{option.replace('_', '-')}: no served backend takes it")
    loaded: dict[str, Plugin] = {}
    for name in unique:
        own = f"{socket_name}/{name}" if len(unique) > 1 else socket_name
        given = {"name": own, **extra, **options.get(name, {})}
        accepted = {k: v for k, v in given.items() if k in parameters[name]}
        try:
            loaded[name] = factories[name](**accepted)
        except Exception as exc:
            close_backends(loaded.values())
            raise StartupFailed(_backend_failure(name, exc)) from None
    backends: dict[str, Plugin] = {"": loaded[unique[0]]}
    if len(loaded) > 1:
        backends.update(loaded)
    return backends


def _factory(name: str) -> Any:
    try:
        return backend_factory(name)
    except (UnknownBackend, InstanceRPCError) as exc:
        raise StartupFailed(str(exc)) from None
    except Exception as exc:  # a backend module that fails as it is imported
        raise StartupFailed(f"cannot load backend {name!r}: {failure_reason(exc)}") from None


def _backend_failure(name: str, exc: Exception) -> str:
    if isinstance(exc, InstanceRPCError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = failure_reason(exc)
        return f"backend {name!r}: cannot open the state directory: {exc.filename}: {reason}"
    return f"backend {name!r} failed to start: {failure_reason(exc)}"


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def close_backends(backends: Iterable[Plugin]) -> None:
    """Release what the backends hold (state directory locks); errors are logged, not raised."""
    for backend in {id(b): b for b in backends}.values():
        close = getattr(backend, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.exception("closing backend %r failed", backend)
