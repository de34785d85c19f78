"""``serve``'s backends: loading each by name with the options it takes, its state directory
(``--dir``), the docker backend's policy options, and closing what was loaded when start-up
fails.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..backends import UnknownBackend, backend_factory
from ..errors import InstanceRPCError
from ..spi import Plugin
from ._app import fail

__all__ = [
    "BACKEND_OPTIONS",
    "BACKEND_PREFIXES",
    "StartupFailed",
    "backend_option_values",
    "close_backends",
    "docker_policy_options",
    "ec2_options",
    "failure_reason",
    "load_backends",
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


BACKEND_OPTIONS: dict[str, str] = {
    "docker_host": "docker",
    "docker_allow": "docker",
    "docker_registry": "docker",
    "docker_engine_timeout": "docker",
    "run_as": "process",
    "process_max_pids": "process",
    "process_max_memory": "process",
    "process_cgroup_parent": "process",
    "ec2_endpoint": "ec2",
    "ec2_deadline": "ec2",
    "ec2_rate": "ec2",
}
"""``serve``'s options that belong to a backend (parameter name -> backend): each given one is
offered to the backends as a keyword option, taken by those whose factory accepts it; one given
on the command line that no served backend takes is refused (a default, or a value from the
environment, is not). A new backend option is declared here (a test checks that every ``serve``
option named ``--<backend>-...`` is)."""

BACKEND_PREFIXES = ("docker_", "ec2_", "process_")
"""Parameter name prefixes of backend options (``--docker-...``, ``--ec2-...``, ...)."""


def backend_option_values(context: click.Context) -> tuple[dict[str, Any], set[str]]:
    """The backend options (:data:`BACKEND_OPTIONS`) ``serve`` has a value for (not ``None``, not
    empty), and the names of those given on the command line."""
    offered: dict[str, Any] = {}
    typed: set[str] = set()
    for name, value in context.params.items():
        if name not in BACKEND_OPTIONS or value is None or value == ():
            continue
        offered[name] = value
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            typed.add(name)
    return offered, typed


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
    else ``$STATE_DIRECTORY`` (the first of the directories systemd's ``StateDirectory=`` made),
    else the backends' own default, ``$XDG_STATE_HOME/instance-rpc/<socket name>``. With one
    such backend the base is its directory; with several, ``<base>/<backend>`` is each one's.
    """
    base, own = _parse_dirs(dirs)
    if base is None:
        base = _systemd_state_directory(os.environ)
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


def _systemd_state_directory(environ: Mapping[str, str]) -> Path | None:
    first = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(first) if os.path.isabs(first) else None


def _default_state_dir(name: str, environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/instance-rpc/<name>``, else ``~/.local/state/instance-rpc/<name>``: the
    shipped backends' default, for a backend that takes ``dir`` but no ``name``."""
    base = environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "instance-rpc" / name


def _refuse_what_no_backend_takes(
    unique: list[str],
    parameters: dict[str, set[str]],
    dirs: tuple[str, ...],
    offered: dict[str, Any],
    typed: set[str] | None,
) -> dict[str, Any]:
    """``offered`` without the options no served backend takes; one of them given on the
    command line (in ``typed``; ``None``: all are) ends ``serve`` with one line, as ``--dir``
    does when no served backend keeps state in a directory."""
    served = ", ".join(unique)
    base, _ = _parse_dirs(dirs)  # a BACKEND=DIR for a backend without state: state_options says
    if base is not None and not any("dir" in parameters[name] for name in unique):
        fail(f"--dir: no backend served here keeps state in a directory (serving {served})")
    kept: dict[str, Any] = {}
    for option, value in offered.items():
        if any(option in parameters[name] for name in unique):
            kept[option] = value
        elif typed is None or option in typed:
            owner = BACKEND_OPTIONS.get(option)
            flag = f"--{option.replace('_', '-')}"
            if owner is None:
                fail(f"{flag}: no backend served here takes it (serving {served})")
            fail(f"{flag} is an option of the {owner} backend, not served here (serving {served})")
    return kept


def load_backends(
    names: tuple[str, ...],
    dirs: tuple[str, ...],
    socket_name: str,
    offered: dict[str, Any] | None = None,
    typed: set[str] | None = None,
) -> dict[str, Plugin]:
    """The first backend is the default (``Type: ""``); with several, each answers by name too.

    Each factory gets the keyword options it accepts: its state directory (``dir`` or ``name``),
    its ``name`` (the socket's, or ``<socket>/<backend>`` with several), and each of ``offered``
    (options of ``serve`` such as ``docker_host``). An option in ``typed`` (given on the command
    line; ``None``: every offered one) that no served backend takes is refused, as is ``--dir``
    when none keeps state in a directory.

    Raises :class:`StartupFailed`; the backends made before the failing one are closed first.
    """
    unique = list(dict.fromkeys(names))
    factories = {name: _factory(name) for name in unique}
    parameters = {name: _parameters(factories[name]) for name in unique}
    takes_dir = [name for name in unique if "dir" in parameters[name]]
    extra = _refuse_what_no_backend_takes(unique, parameters, dirs, offered or {}, typed)
    options = state_options(takes_dir, dirs, socket_name)
    loaded: dict[str, Plugin] = {}
    for name in unique:
        own = f"{socket_name}/{name}" if len(unique) > 1 else socket_name
        given = {"name": own, **extra, **options.get(name, {})}
        if "dir" in parameters[name] and "name" not in parameters[name] and "dir" not in given:
            given["dir"] = _default_state_dir(own, os.environ)
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
