"""The ``process`` backend: each instance is a local OS process running the Spec's ``Init``.

- ``Init`` runs as ``/bin/sh -c INIT`` in a session (and process group) of its own, stdin from
  ``/dev/null``, stdout and stderr appended to ``<dir>/<ID>.log``, in an environment of its own
  (``plugins/_process_user.py``: a fixed minimal set, the Properties' ``env`` and
  ``INSTANCE_RPC_INSTANCE=<ID>``, never the daemon's); in a cgroup of its own where the daemon
  may create one; as the ``run_as`` user (``USER[:GROUP]``) when given; within the
  ``process_max_pids`` and ``process_max_memory`` ceilings when given
  (``plugins/_process_ceilings.py``: on its cgroup v2, or on cgroups v1 of its own where only
  v1 offers the controller).
- ``Properties`` (all optional; see ``plugins/_process_settings.py``)::

      {"env": {"PORT": "8080"}, "cwd": "/srv/app", "stop_grace_seconds": 5}

  ``env`` is added to the minimal set; ``stop_grace_seconds`` (default 10) is how long
  Destroy waits after SIGTERM before it sends SIGKILL.
- DescribeInstances with properties reports ``pid``, ``state`` (``running`` or ``exited``: the
  Init shell; an instance being destroyed is not described), ``exit_code`` (negative: the
  signal that ended it; ``null`` when unknown), ``started_at``, ``ended_at``, ``processes``
  (the pids of the instance's live processes, see ``plugins/_members.py``), ``cgroup`` (its
  cgroup's directory, ``null`` without one), ``cgroups_v1`` (its cgroup v1 directories, one
  per ceiling kept on v1) and the ``properties`` provisioned with, byte for byte.
- Destroy answers once committed: the record marked destroying (the ``Context`` reason) on disk;
  the instance is then no longer described. In the background it sends SIGTERM to every process
  of the instance, SIGKILL to those left after the grace period, and removes the record and log
  once none is left (the Init shell need not run any more). A daemon started on the directory
  resumes the Destroys left unfinished (:meth:`ProcessPlugin.astart`, or the first call).
- The inventory lives in ``dir`` (a :class:`~plugins._inventory.Inventory`). A daemon started on
  it re-adopts the processes still running, recognised by pid *and* start time (a recycled pid
  is never taken for the instance), and marks the others exited. Stopping the daemon leaves the
  processes running: Destroy stops them. The daemon makes itself the subreaper of its
  descendants, so orphaned processes of its instances are re-parented to it and reaped.
- An instance lives until it is destroyed, whether or not its process still runs: Provision with
  the ``LogicalID`` of a live instance returns that instance's ID; one of a destroying instance
  waits for the Destroy to finish and creates a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ..store.documents import default_state_dir
from ..store.inventory import Inventory, now_utc
from . import _cgroup
from ._ceilings import Ceilings, place
from ._child import Child
from ._members import Snapshot, enable_subreaper
from ._procfs import is_running
from ._record import DESTROYING, EXITED, RUNNING, ProcessRecord, describe_view
from ._settings import EXAMPLE_PROPERTIES, ProcessProperties, parse_settings
from ._spawn import Launcher, remove_v1
from ._stop import KILL_WAIT_SECONDS, stop_members
from ._user import parse_run_as

__all__ = [
    "CGROUPS_VARIABLE",
    "DESTROYING",
    "EXITED",
    "RUNNING",
    "ProcessPlugin",
    "ProcessRecord",
]

logger = logging.getLogger("instance_rpc_plugins.process")

CGROUPS_VARIABLE = "INSTANCE_RPC_PROCESS_CGROUPS"
"""Set to ``0`` in the daemon's environment to never use cgroups (sessions and markers only)."""


class ProcessPlugin:
    """Local processes as instances; inventory in ``dir``. :meth:`close` releases the directory
    and leaves the processes running.

    ``cgroups``: put each instance in a cgroup v2 of its own where the daemon may create one
    (``None``, the default: yes unless ``INSTANCE_RPC_PROCESS_CGROUPS=0``), under
    ``process_cgroup_parent`` (a cgroup v2 directory; default: the daemon's own cgroup).
    ``run_as``: ``USER[:GROUP]`` to run instances as. ``process_max_pids`` (tasks) and
    ``process_max_memory`` (bytes): ceilings per instance, kept through its cgroup v2, or, for
    a controller only a cgroup v1 hierarchy offers, a cgroup v1 of its own under the daemon's
    own cgroup of that hierarchy.

    Raises :class:`~instance_rpc.errors.PluginError` (one line) for an unknown user or group, or
    a ceiling the cgroups here cannot keep.
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
        run_as: str | None = None,
        process_max_pids: int | None = None,
        process_max_memory: int | None = None,
        process_cgroup_parent: str | os.PathLike[str] | None = None,
    ) -> None:
        account = None if run_as is None else parse_run_as(run_as)
        if cgroups is None:
            cgroups = os.environ.get(CGROUPS_VARIABLE, "1") != "0"
        given = None if process_cgroup_parent is None else Path(process_cgroup_parent)
        parent = _cgroup.usable_parent(given) if cgroups else None
        ceilings = Ceilings(process_max_pids, process_max_memory)
        # Not where cgroups are off, nor in place of a parent the operator named that is unusable.
        v1 = cgroups and (given is None or parent is not None)
        on_v1 = place(parent, ceilings, _why_no_cgroup(cgroups, given), v1=v1)
        self._launcher = Launcher(parent, ceilings, account, on_v1)
        directory = default_state_dir(name) if dir is None else dir
        self._inventory = Inventory(directory, ProcessRecord, stop=self._stop)
        self._children: dict[str, Child] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        if not enable_subreaper():
            logger.warning("cannot become the subreaper: orphaned processes go to init")
        self._adopt()

    @property
    def directory(self) -> Path:
        return self._inventory.directory

    def _adopt(self) -> None:
        """Log which recorded processes still run; describe re-checks them every time."""
        for record in self._inventory.records():
            if record.destroying:
                logger.warning("the Destroy of %s was interrupted: it resumes", record.ID)
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
            remove_v1([Path(c) for c in record.CgroupsV1 if not _cgroup.procs(Path(c))])
        self._inventory.close()

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-process", version="0.1.0")

    def instance_count(self) -> int:
        return len(self._inventory)

    async def validate(self, properties: Properties) -> None:
        parse_settings(properties)

    async def provision(self, spec: Spec) -> str:
        self._inventory.resume()
        settings = parse_settings(spec.properties)

        async def start(instance_id: str) -> ProcessRecord:
            popen, identity, cgroup, cgroups_v1 = await asyncio.to_thread(
                self._launcher.start, instance_id, spec.init, settings, self._log_path(instance_id)
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
                CgroupsV1=[str(path) for path in cgroups_v1],
                StartedAt=now_utc(),
                StopGraceSeconds=settings.stop_grace_seconds,
            )

        return await self._inventory.create(spec.logical_id, "proc-", start)

    def _log_path(self, instance_id: str) -> Path:
        return self._inventory.directory / f"{instance_id}.log"

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
        self._inventory.resume()
        await self._inventory.merge_tags(instance, labels)

    async def destroy(self, instance: str, context: Context) -> None:
        """Commit the Destroy (the record marked destroying, on disk) and return; the graceful
        stop (:meth:`_stop`) finishes in the background. Joins one under way; ``instance not
        found`` once it has finished."""
        self._inventory.resume()
        logger.info("destroying %r, reason: %r", instance, context.reason)
        await self._inventory.destroy(instance, context.reason)

    async def astart(self) -> None:
        """Resume the Destroys a daemon stop interrupted (the daemon calls it on its loop)."""
        self._inventory.resume()

    async def aclose(self) -> None:
        """Cancel the Destroys under way: they stay committed, and resume at the next start."""
        await self._inventory.aclose()

    async def destroys_finished(self) -> None:
        """Return once no Destroy is under way in the background (for tests and benchmarks)."""
        await self._inventory.destroys_finished()

    async def _stop(self, record: ProcessRecord) -> None:
        """SIGTERM every process of the instance, SIGKILL what is left after the grace period;
        return once none is left (or warn, naming the survivors); then remove its log."""
        await self._stop_processes(record)
        logger.info("destroyed %s", record.ID)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log_path(record.ID))

    async def _stop_processes(self, record: ProcessRecord) -> None:
        group, child = record.group, self._children.get(record.ID)
        await stop_members(record.ID, group, child, record.StopGraceSeconds)
        await asyncio.to_thread(self._report_strays)
        if child is not None:
            with contextlib.suppress(TimeoutError):  # it has ended: the loop reaps it soon
                await asyncio.wait_for(child.ended.wait(), KILL_WAIT_SECONDS)
            self._children.pop(record.ID, None)
        if group.cgroup is not None:
            _cgroup.remove(group.cgroup)
        if record.CgroupsV1:  # its processes are gone: the last ones leave as they exit
            await asyncio.to_thread(remove_v1, [Path(path) for path in record.CgroupsV1])

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
        self._inventory.resume()
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


def _why_no_cgroup(cgroups: bool, given: Path | None) -> str:
    if not cgroups:
        return f"{CGROUPS_VARIABLE}=0 turns them off"
    if given is not None:
        return f"{given} is not a cgroup v2 directory the daemon may create cgroups in"
    return "the daemon's own cgroup (/proc/self/cgroup) is not a cgroup v2 it may create cgroups in"


_: type[Plugin] = ProcessPlugin  # mypy checks that ProcessPlugin satisfies the protocol
