"""The ``process`` backend: each instance is a local OS process running the Spec's ``Init``.

- ``Init`` runs as ``/bin/sh -c INIT`` in a session (and process group) of its own, stdin from
  ``/dev/null``, stdout and stderr appended to ``<dir>/<ID>.log``.
- ``Properties`` (all optional; see ``plugins/_process_settings.py``)::

      {"env": {"PORT": "8080"}, "cwd": "/srv/app", "stop_grace_seconds": 5}

  ``env`` is added to the daemon's environment; ``stop_grace_seconds`` (default 10) is how long
  Destroy waits after SIGTERM before it sends SIGKILL.
- DescribeInstances with properties reports ``pid``, ``state`` (``running`` or ``exited``),
  ``exit_code`` (negative: the signal that ended it; ``null`` when unknown), ``started_at``,
  ``ended_at`` and the ``properties`` provisioned with, byte for byte.
- Destroy sends SIGTERM to the process group, SIGKILL after the grace period, and records the
  ``Context`` reason in the record (while stopping) and in the log.
- The inventory lives in ``dir`` (a :class:`~plugins._inventory.Inventory`). A daemon started on
  it re-adopts the processes still running, recognised by pid *and* start time (a recycled pid
  is never taken for the instance), and marks the others exited. Stopping the daemon leaves the
  processes running: Destroy stops them.
- An instance lives until it is destroyed, whether or not its process still runs: Provision with
  the ``LogicalID`` of an instance in the inventory returns that instance's ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import msgspec

from instance_rpc.errors import PluginError
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ._inventory import Inventory, Record, now_utc
from ._process_settings import ProcessSettings, parse_settings
from ._procfs import ProcessIdentity, identity_of, is_running, still_holds
from ._store import default_state_dir

__all__ = ["ProcessPlugin"]

logger = logging.getLogger(__name__)

RUNNING = "running"
EXITED = "exited"
_KILL_WAIT_SECONDS = 5.0  # after SIGKILL; only an uninterruptible sleep takes this long
_POLL_SECONDS = 0.02


class ProcessRecord(Record, kw_only=True):
    Pid: int = 0
    StartTicks: int = 0
    BootID: str = ""
    State: str = RUNNING
    ExitCode: int | None = None
    StartedAt: str = ""
    EndedAt: str | None = None
    StopGraceSeconds: float = 10.0
    DestroyReason: str | None = None

    @property
    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.Pid, self.StartTicks, self.BootID)


class _View(msgspec.Struct):
    """What DescribeInstances reports as an instance's Properties."""

    pid: int
    state: str
    exit_code: int | None
    started_at: str
    ended_at: str | None
    properties: msgspec.Raw


_VIEW_ENCODER = msgspec.json.Encoder()


class _Child:
    """A process this daemon started: reaped the moment it ends, without a thread per child."""

    def __init__(self, popen: subprocess.Popen[bytes], on_exit: Callable[[int], None]) -> None:
        self.popen = popen
        self.ended = asyncio.Event()
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_in_thread, daemon=True).start()
        else:
            self._loop.add_reader(self._pidfd, self._reap)

    def _wait_in_thread(self) -> None:
        self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._reap)

    def _reap(self) -> None:
        code = self.popen.poll()
        if code is None:
            return
        self.forget()
        if not self.ended.is_set():
            self.ended.set()
            self._on_exit(code)

    def forget(self) -> None:
        """Stop watching (the process keeps running)."""
        fd, self._pidfd = self._pidfd, None
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)


class ProcessPlugin:
    """Local processes as instances; inventory in ``dir``. :meth:`close` releases the directory
    and leaves the processes running."""

    def __init__(self, *, dir: str | os.PathLike[str] | None = None, name: str = "process") -> None:
        directory = default_state_dir(name) if dir is None else dir
        self._inventory = Inventory(directory, ProcessRecord)
        self._children: dict[str, _Child] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._adopt()

    @property
    def directory(self) -> Path:
        return self._inventory.directory

    def _adopt(self) -> None:
        """Log which recorded processes still run; describe re-checks them every time."""
        for record in self._inventory.records():
            if record.State == RUNNING:
                if is_running(record.identity):
                    logger.info("re-adopted %s (pid %d)", record.ID, record.Pid)
                else:
                    logger.info("%s (pid %d) ended while no daemon watched", record.ID, record.Pid)

    def close(self) -> None:
        for child in self._children.values():
            child.forget()
        self._children.clear()
        self._inventory.close()

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-process", version="0.1.0")

    def instance_count(self) -> int:
        return len(self._inventory)

    async def validate(self, properties: Properties) -> None:
        parse_settings(properties)

    async def provision(self, spec: Spec) -> str:
        settings = parse_settings(spec.properties)

        async def start(instance_id: str) -> ProcessRecord:
            popen, identity = await asyncio.to_thread(self._spawn, instance_id, spec.init, settings)
            self._children[instance_id] = _Child(
                popen, lambda code: self._spawn_task(self._record_exit(instance_id, code))
            )
            logger.info("provisioned %s: pid %d", instance_id, popen.pid)
            return ProcessRecord(
                **ProcessRecord.fields_of(instance_id, spec),
                Pid=popen.pid,
                StartTicks=identity.start_ticks if identity else 0,
                BootID=identity.boot_id if identity else "",
                StartedAt=now_utc(),
                StopGraceSeconds=settings.stop_grace_seconds,
            )

        return await self._inventory.create(spec.logical_id, "proc-", start)

    def _log_path(self, instance_id: str) -> Path:
        return self._inventory.directory / f"{instance_id}.log"

    def _spawn(
        self, instance_id: str, init: str, settings: ProcessSettings
    ) -> tuple[subprocess.Popen[bytes], ProcessIdentity | None]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        log_path = self._log_path(instance_id)
        log_fd = os.open(log_path, flags, 0o600)
        try:
            popen = subprocess.Popen(
                ["/bin/sh", "-c", init],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=settings.cwd,
                env={**os.environ, **settings.env},
                start_new_session=True,
            )
        except OSError as exc:
            log_path.unlink(missing_ok=True)
            raise PluginError(f"cannot start /bin/sh for {instance_id}: {exc}") from None
        finally:
            os.close(log_fd)
        # Not yet reaped (only _Child reaps), so /proc still shows it even if it has ended.
        return popen, identity_of(popen.pid)

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_exit(self, instance_id: str, code: int) -> None:
        logger.info("%s exited with %d", instance_id, code)
        async with self._inventory.lock:
            self._children.pop(instance_id, None)
            if instance_id not in self._inventory:
                return
            record = self._inventory.get(instance_id)
            await self._inventory.put(
                msgspec.structs.replace(record, State=EXITED, ExitCode=code, EndedAt=now_utc())
            )

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        await self._inventory.merge_tags(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        async with self._inventory.lock:
            record = msgspec.structs.replace(
                self._inventory.get(instance), DestroyReason=context.reason
            )
            await self._inventory.put(record)
        logger.info("destroying %s (pid %d), reason: %s", instance, record.Pid, context.reason)
        await self._stop(record, self._children.get(instance))
        async with self._inventory.lock:
            self._children.pop(instance, None)
            if instance in self._inventory:
                await self._inventory.delete(instance)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._log_path(instance))

    async def _stop(self, record: ProcessRecord, child: _Child | None) -> None:
        identity = record.identity
        if child is None and not still_holds(identity):
            return  # ended before, or the pid is another process's now: never signal it
        if child is None or not child.ended.is_set():
            _signal_group(record.Pid, signal.SIGTERM)
            if await _ended(identity, child, record.StopGraceSeconds):
                _signal_group(record.Pid, signal.SIGKILL)  # the rest of its group, if any
                return
        _signal_group(record.Pid, signal.SIGKILL)
        if not await _ended(identity, child, _KILL_WAIT_SECONDS):
            logger.warning("%s (pid %d) survived SIGKILL", record.ID, record.Pid)

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        records = self._inventory.matching(tags)
        if not properties:
            return [record.describe(None) for record in records]
        watched = set(self._children)
        # Each running process not watched by us is looked up in /proc: off the loop.
        return await asyncio.to_thread(
            lambda: [record.describe(_view(record, record.ID in watched)) for record in records]
        )


def _view(record: ProcessRecord, watched: bool) -> msgspec.Raw:
    """The Properties described: the process now, and what it was provisioned with."""
    state = record.State
    if state == RUNNING and not watched and not is_running(record.identity):
        state = EXITED
    view = _View(
        pid=record.Pid,
        state=state,
        exit_code=record.ExitCode,
        started_at=record.StartedAt,
        ended_at=record.EndedAt,
        properties=record.Properties,
    )
    return msgspec.Raw(_VIEW_ENCODER.encode(view))


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _ended(identity: ProcessIdentity, child: _Child | None, seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to end; reap it when it is ours."""
    if child is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.ended.wait(), seconds)
        return child.ended.is_set()
    deadline = time.monotonic() + seconds
    while is_running(identity):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    _reap_if_ours(identity)
    return True


def _reap_if_ours(identity: ProcessIdentity) -> None:
    """An adopted process may still be our child (a daemon restarted in-process): reap it."""
    if still_holds(identity):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(identity.pid, os.WNOHANG)


_: type[Plugin] = ProcessPlugin  # mypy checks that ProcessPlugin satisfies the protocol
