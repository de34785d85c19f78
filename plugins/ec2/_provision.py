"""Provision, idempotent by ClientToken (``_tokens.py``), and the waits around it.

With a LogicalID: the live instance of that LogicalID (listed with our ownership tag) is the
answer. Otherwise life ``n`` is launched with ``logical_token(owner, LogicalID, n)``, where
``n`` is one more than the newest ended life the API still lists (0 if none). The API answers a
used token with the instance it made: a live one is the answer (a lost answer, another daemon's
concurrent Provision); an ended one (or ``IdempotentParameterMismatch``, an ended life launched
with other parameters) means the token belongs to a past life, and ``n + 1`` is tried.

An instance the API does not show yet (eventual consistency) is waited for, within the
deadline; a token's answer that the API no longer shows and that launched more than
:data:`GONE_AFTER` ago is an instance that ended long ago.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from instance_rpc.errors import PluginError

from ._api import API, APIError, Deadline
from ._describe import LIVE_STATES, state_of
from ._launch import Launch
from ._tags import GENERATION, LOGICAL_ID, OWNER, all_tags
from ._tokens import logical_token, random_token

__all__ = ["GONE_AFTER", "Provisioner"]

logger = logging.getLogger("instance_rpc_plugins.ec2")

GONE_AFTER = datetime.timedelta(minutes=10)
_MAX_LIVES = 64  # past lives walked through in one Provision before giving up
_NOT_FOUND = ("InvalidInstanceID.NotFound",)
_ENDED = ("shutting-down", "terminated")


class Provisioner:
    """Launches instances for the plugin ``owner`` through ``api``."""

    def __init__(self, api: API, owner: str) -> None:
        self.api = api
        self.owner = owner

    async def _lives(self, logical_id: str, deadline: Deadline) -> list[dict[str, Any]]:
        filters = [
            {"Name": f"tag:{OWNER}", "Values": [self.owner]},
            {"Name": f"tag:{LOGICAL_ID}", "Values": [logical_id]},
        ]
        return await self.api.instances(deadline, filters=filters)

    async def provision(self, launch: Launch, logical_id: str | None, deadline: Deadline) -> str:
        if logical_id is None:
            token = random_token()
            instance = await self._run(launch.run_instances(token, None), deadline)
            shown = await self._visible(instance, deadline, fresh=True)
            if shown is None:
                raise PluginError(f"ec2: instance {instance['InstanceId']} ended as it started")
            return await self._attach(shown, launch, deadline)
        lives = await self._lives(logical_id, deadline)
        live = sorted(
            (i for i in lives if state_of(i) in LIVE_STATES),
            key=lambda i: (str(i.get("LaunchTime") or ""), str(i["InstanceId"])),
        )
        if live:
            if len(live) > 1:
                logger.warning(
                    "LogicalID %s has %d live instances: %s", logical_id, len(live),
                    ", ".join(str(i["InstanceId"]) for i in live),
                )  # fmt: skip
            return await self._attach(live[0], launch, deadline)
        generation = 1 + max((_generation(i) for i in lives), default=-1)
        for _ in range(_MAX_LIVES):
            token = logical_token(self.owner, logical_id, generation)
            try:
                instance = await self._run(launch.run_instances(token, generation), deadline)
            except APIError as exc:
                if exc.api_code != "IdempotentParameterMismatch":
                    raise
                live = [i for i in await self._lives(logical_id, deadline) if _live(i)]
                if live:
                    return await self._attach(live[0], launch, deadline)
                generation += 1  # a past life launched with other parameters
                continue
            shown = await self._visible(instance, deadline, fresh=False)
            if shown is not None:
                return await self._attach(shown, launch, deadline)
            logger.info(
                "LogicalID %s: token of life %d is %s's, which ended; next life",
                logical_id, generation, instance["InstanceId"],
            )  # fmt: skip
            generation += 1
        raise PluginError(f"ec2: LogicalID {logical_id}: {_MAX_LIVES} past lives in a row")

    async def _run(self, params: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        answer = await self.api.call("RunInstances", deadline, **params)
        instances = answer.get("Instances") or []
        if len(instances) != 1:
            raise PluginError(f"ec2 RunInstances: {len(instances)} instances in the answer")
        instance: dict[str, Any] = instances[0]
        return instance

    async def _visible(
        self, launched: dict[str, Any], deadline: Deadline, *, fresh: bool
    ) -> dict[str, Any] | None:
        """The launched instance as the API lists it once it does; ``None`` if it has ended
        (or, unless ``fresh``, the API no longer knows an instance launched long ago)."""
        instance_id = str(launched["InstanceId"])
        pause = 0.1
        while True:
            try:
                shown = await self.api.instances(deadline, ids=[instance_id])
            except APIError as exc:
                if exc.api_code not in _NOT_FOUND:
                    raise
                shown = []
            if shown:
                return shown[0] if _live(shown[0]) else None
            if not fresh and _launched_long_ago(launched):
                return None
            if deadline.left() <= pause:
                raise PluginError(
                    f"ec2: instance {instance_id} was launched but the API has not shown it "
                    f"within the {deadline.seconds:g} s deadline; a Provision again finds it"
                )
            logger.debug("instance %s not shown yet; waiting %.1f s", instance_id, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _attach(self, instance: dict[str, Any], launch: Launch, deadline: Deadline) -> str:
        """Attach the launch's EBS volumes not attached yet, once the instance runs."""
        instance_id = str(instance["InstanceId"])
        attached = {
            str((m.get("Ebs") or {}).get("VolumeId"))
            for m in instance.get("BlockDeviceMappings") or ()
        }
        missing = {v: d for v, d in launch.volumes.items() if v not in attached}
        if not missing:
            return instance_id
        pause = 0.1
        while state_of(instance) != "running":
            if state_of(instance) not in ("pending",) or deadline.left() <= pause:
                raise PluginError(
                    f"ec2: instance {instance_id} is {state_of(instance) or 'unknown'}, "
                    "not running: its volumes cannot be attached"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
            shown = await self.api.instances(deadline, ids=[instance_id])
            instance = shown[0] if shown else instance
        for volume, device in sorted(missing.items()):
            try:
                await self.api.call(
                    "AttachVolume", deadline, VolumeId=volume, InstanceId=instance_id,
                    Device=device,
                )  # fmt: skip
            except APIError as exc:
                if exc.api_code != "VolumeInUse" or not await self._attached_here(
                    volume, instance_id, deadline
                ):
                    raise
        return instance_id

    async def _attached_here(self, volume: str, instance_id: str, deadline: Deadline) -> bool:
        answer = await self.api.call("DescribeVolumes", deadline, VolumeIds=[volume])
        for found in answer.get("Volumes") or ():
            for attachment in found.get("Attachments") or ():
                if attachment.get("InstanceId") == instance_id:
                    return True
        return False


def _live(instance: dict[str, Any]) -> bool:
    return state_of(instance) not in _ENDED


def _generation(instance: dict[str, Any]) -> int:
    try:
        return int(all_tags(instance).get(GENERATION, "-1"))
    except ValueError:
        return -1


def _launched_long_ago(instance: dict[str, Any]) -> bool:
    launched = instance.get("LaunchTime")
    if not isinstance(launched, datetime.datetime):
        return False
    if launched.tzinfo is None:
        launched = launched.replace(tzinfo=datetime.UTC)
    return datetime.datetime.now(datetime.UTC) - launched > GONE_AFTER
