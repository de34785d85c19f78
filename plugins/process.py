"""The ``process`` backend: each instance is a local OS process running the Spec's ``Init``.

- ``Init`` runs as ``/bin/sh -c INIT`` in a session (and process group) of its own, stdin from
  ``/dev/null``, stdout and stderr appended to ``<dir>/<ID>.log``, with ``INSTANCE_RPC_INSTANCE``
  set to the instance's ID; in a cgroup of its own where the daemon may create one.
- ``Properties`` (all optional; see ``plugins/_process_settings.py``)::

      {"env": {"PORT": "8080"}, "cwd": "/srv/app", "stop_grace_seconds": 5}

  ``env`` is added to the daemon's environment; ``stop_grace_seconds`` (default 10) is how long
  Destroy waits after SIGTERM before it sends SIGKILL.
- DescribeInstances with properties reports ``pid``, ``state`` (``running`` or ``exited``: the
  Init shell; ``destroying`` once a Destroy began), ``exit_code`` (negative: the signal that ended
  it; ``null`` when unknown), ``started_at``, ``ended_at``, ``processes`` (the pids of the
  instance's live processes, see ``plugins/_members.py``), ``cgroup`` (its cgroup's directory,
  ``null`` without one) and the ``properties`` provisioned with, byte for byte.
- Destroy sends SIGTERM to every process of the instance, SIGKILL to those left after the grace
  period, and returns once none is left; the Init shell need not run any more. The ``Context``
  reason goes to the record (while destroying) and to the log.
- The inventory lives in ``dir`` (a :class:`~plugins._inventory.Inventory`). A daemon started on
  it re-adopts the processes still running, recognised by pid *and* start time (a recycled pid
  is never taken for the instance), and marks the others exited. Stopping the daemon leaves the
  processes running: Destroy stops them. The daemon makes itself the subreaper of its
  descendants, so orphaned processes of its instances are re-parented to it and reaped.
- An instance lives until it is destroyed, whether or not its process still runs: Provision with
  the ``LogicalID`` of a live instance returns that instance's ID; one of a destroying instance
  waits for the Destroy and creates a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from instance_rpc.errors import PluginError
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from . import _cgroup
from ._child import Child
from ._inventory import Inventory, now_utc
from ._members import MARKER_VARIABLE, Snapshot, enable_subreaper
from ._process_record import (
    DESTROYING,
    EXITED,
    RUNNING,
    ProcessRecord,
    describe_view,
)
from ._process_settings import (
    EXAMPLE_PROPERTIES,
    ProcessProperties,
    ProcessSettings,
    parse_settings,
)
from ._process_stop import KILL_WAIT_SECONDS, stop_members
from ._procfs import ProcessIdentity, identity_of, is_running
from ._store import default_state_dir

__all__ = [
    "CGROUPS_VARIABLE",
    "DESTROYING",
    "EXITED",
    "RUNNING",
    "ProcessPlugin",
    "ProcessRecord",
]

logger = logging.getLogger(__name__)

_NEW_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
"""An instance's output file is always a new one (the only name in it is the instance's ID)."""

CGROUPS_VARIABLE = "INSTANCE_RPC_PROCESS_CGROUPS"
"""Set to ``0`` in the daemon's environment to never use cgroups (sessions and markers only)."""


class ProcessPlugin:
    """Local processes as instances; inventory in ``dir``. :meth:`close` releases the directory
    and leaves the processes running.

    ``cgroups``: put each instance in a cgroup v2 of its own where the daemon may create one
    (``None``, the default: yes unless ``INSTANCE_RPC_PROCESS_CGROUPS=0``).
    """

    properties_type: ClassVar[type[ProcessProperties]] = ProcessProperties
    """The Properties' type: what the daemon checks them against and describes them with."""

    example_properties: ClassVar[dict[str, Any]] = EXAMPLE_PROPERTIES

    def __init__(
        self,
        *,
        dir: str | os.PathLike[str] | None = None,
        name: str = "process",
        cgroups: bool | None = None,
    ) -> None:
        directory = default_state_dir(name) if dir is None else dir
        self._inventory = Inventory(directory, ProcessRecord, stop=self._stop)
        self._children: dict[str, Child] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        if not enable_subreaper():
            logger.warning("cannot become the subreaper: orphaned processes go to init")
        if cgroups is None:
            cgroups = os.environ.get(CGROUPS_VARIABLE, "1") != "0"
        self._cgroup_parent = _cgroup.usable_parent() if cgroups else None
        self._adopt()

    @property
    def directory(self) -> Path:
        return self._inventory.directory

    def _adopt(self) -> None:
        """Log which recorded processes still run; describe re-checks them every time."""
        for record in self._inventory.records():
            if record.destroying:
                logger.warning("the Destroy of %s was interrupted: Destroy it again", record.ID)
            elif record.State == RUNNING:
                if is_running(record.identity):
                    logger.info("re-adopted %s (pid %d)", record.ID, record.Pid)
                else:
                    logger.info("%s (pid %d) ended while no daemon watched", record.ID, record.Pid)

    def close(self) -> None:
        for child in self._children.values():
            child.forget()
        self._children.clear()
        for record in self._inventory.records():
            if record.Cgroup and not _cgroup.procs(Path(record.Cgroup)):
                _cgroup.remove(Path(record.Cgroup))  # empty: nothing left to find in it
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
            popen, identity, cgroup = await asyncio.to_thread(
                self._spawn, instance_id, spec.init, settings
            )
            self._children[instance_id] = Child(
                popen, lambda code: self._spawn_task(self._record_exit(instance_id, code))
            )
            logger.info("provisioned %s: pid %d", instance_id, popen.pid)
            return ProcessRecord(
                **ProcessRecord.fields_of(instance_id, spec),
                Pid=popen.pid,
                StartTicks=identity.start_ticks if identity else 0,
                BootID=identity.boot_id if identity else "",
                SessionID=popen.pid,
                Cgroup="" if cgroup is None else str(cgroup),
                StartedAt=now_utc(),
                StopGraceSeconds=settings.stop_grace_seconds,
            )

        return await self._inventory.create(spec.logical_id, "proc-", start)

    def _log_path(self, instance_id: str) -> Path:
        return self._inventory.directory / f"{instance_id}.log"

    def _spawn(
        self, instance_id: str, init: str, settings: ProcessSettings
    ) -> tuple[subprocess.Popen[bytes], ProcessIdentity | None, Path | None]:
        cgroup = None
        if self._cgroup_parent is not None:
            cgroup = _cgroup.make_instance_cgroup(self._cgroup_parent, instance_id)
        command = ["/bin/sh", "-c", init] if cgroup is None else _cgroup.enter_command(cgroup, init)
        log_path = self._log_path(instance_id)
        try:
            log_fd = os.open(log_path, _NEW_LOG_FLAGS, 0o600)
        except FileExistsError:
            # An earlier instance's log, left by a crash, or an entry planted there: unlinked
            # (a link itself, never its target), never opened.
            log_path.unlink()
            log_fd = os.open(log_path, _NEW_LOG_FLAGS, 0o600)
        try:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=settings.cwd,
                env={**os.environ, **settings.env, MARKER_VARIABLE: instance_id},
                start_new_session=True,
            )
        except OSError as exc:
            log_path.unlink(missing_ok=True)
            if cgroup is not None:
                _cgroup.remove(cgroup)
            raise PluginError(f"cannot start /bin/sh for {instance_id}: {exc}") from None
        finally:
            os.close(log_fd)
        # Not yet reaped (only Child reaps), so /proc still shows it even if it has ended.
        return popen, identity_of(popen.pid), cgroup

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_exit(self, instance_id: str, code: int) -> None:
        logger.info("%s exited with %d", instance_id, code)
        await self._inventory.settled(instance_id)  # its record may still be on its way to disk
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
        logger.info("destroying %s, reason: %s", instance, context.reason)
        await self._inventory.destroy(instance, context.reason)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log_path(instance))

    async def _stop(self, record: ProcessRecord) -> None:
        """SIGTERM every process of the instance, SIGKILL what is left after the grace period;
        return once none is left (or warn, naming the survivors)."""
        group, child = record.group, self._children.get(record.ID)
        await stop_members(record.ID, group, child, record.StopGraceSeconds)
        await asyncio.to_thread(self._report_strays)
        if child is not None:
            with contextlib.suppress(TimeoutError):  # it has ended: the loop reaps it soon
                await asyncio.wait_for(child.ended.wait(), KILL_WAIT_SECONDS)
            self._children.pop(record.ID, None)
        if group.cgroup is not None:
            _cgroup.remove(group.cgroup)

    def _report_strays(self) -> None:
        """Warn of live processes re-parented to the daemon that no instance claims: they left
        their instance's session and dropped its marker (and no cgroup held them)."""
        snapshot = Snapshot()
        claimed = {child.popen.pid for child in self._children.values()}
        for record in self._inventory.records():
            claimed.update(stat.pid for stat in snapshot.members(record.group))
        strays = [pid for pid in snapshot.orphans() if pid not in claimed]
        if strays:
            logger.warning(
                "processes %s were re-parented to the daemon; no instance claims them", strays
            )

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        records = self._inventory.matching(tags)
        if not properties:
            return [record.describe(None) for record in records]
        watched = {instance_id: child.popen.pid for instance_id, child in self._children.items()}

        def describe() -> list[Description]:  # reads /proc: off the loop
            snapshot = Snapshot()
            return [
                record.describe(describe_view(record, snapshot, watched.get(record.ID)))
                for record in records
            ]

        return await asyncio.to_thread(describe)


_: type[Plugin] = ProcessPlugin  # mypy checks that ProcessPlugin satisfies the protocol
