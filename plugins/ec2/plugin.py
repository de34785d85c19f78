"""The ``ec2`` backend: each instance is an EC2 instance, and the API is the only state.

- The API: aiobotocore (the ec2 extra: ``pip install '.[ec2]'``), region and credentials from the
  standard AWS chain, the endpoint from ``ec2_endpoint`` (``serve --ec2-endpoint URL``) or
  ``$AWS_ENDPOINT_URL_EC2``; see ``_settings.py`` for the deadline and the request rates.
- Properties: InfraKit's AWS shape (``RunInstancesInput``, ``Tags``, ``AttachVolumeInputs``),
  ``_properties.py``.
- Provision: RunInstances with every tag applied at launch (no instance exists untagged), Init
  as UserData, idempotent by ClientToken (``_provision.py``, ``_tokens.py``).
- DescribeInstances: the API's filters (our ownership tag, the states pending, running,
  stopping and stopped, the wanted tags it can express), every page, the match finished here;
  concurrent callers with the same filters share one listing (``_listing.py``).
- Label: CreateTags. Destroy: TerminateInstances; an unknown, ended or foreign ID is
  ``instance not found``. No local state: daemons of one name over one API share a fleet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from instance_rpc.errors import InstanceNotFound
from instance_rpc.spi import Plugin
from instance_rpc.types import Context, Description, Properties, Spec, VendorInfo

from ._api import API, APIError, Deadline
from ._describe import LIVE_STATES, describe, state_of
from ._launch import launch_of
from ._listing import SharedListings
from ._properties import EXAMPLE_PROPERTIES, EC2Properties, parse_properties
from ._provision import Provisioner
from ._settings import DEFAULT_DEADLINE, Settings, parse_rates
from ._tags import BOOKKEEPING, OWNER, all_tags, api_filters, check_tags, matches

__all__ = ["EC2Plugin"]

logger = logging.getLogger("instance_rpc_plugins.ec2")

_NOT_FOUND = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")


class EC2Plugin:
    """EC2 instances of the plugin ``name`` as instances. :meth:`aclose` closes the API client."""

    properties_type: ClassVar[type[EC2Properties]] = EC2Properties
    example_properties: ClassVar[dict[str, Any]] = EXAMPLE_PROPERTIES

    def __init__(
        self,
        *,
        name: str = "ec2",
        ec2_endpoint: str | None = None,
        ec2_deadline: float | None = None,
        ec2_rate: Iterable[str] = (),
        page_size: int = 1000,
    ) -> None:
        self.owner = name
        self.settings = Settings(
            endpoint=ec2_endpoint or None,
            deadline=DEFAULT_DEADLINE if ec2_deadline is None else float(ec2_deadline),
            rates=parse_rates(ec2_rate),
            page_size=page_size,
        )
        self.api = API(self.settings)
        self._provisioner = Provisioner(self.api, name)
        self._listings: SharedListings[list[dict[str, Any]]] = SharedListings()

    async def aclose(self) -> None:
        await self.api.close()

    def vendor_info(self) -> VendorInfo:
        return VendorInfo(name="instance-rpc-ec2", version="0.1.0")

    def _deadline(self) -> Deadline:
        return Deadline(self.settings.deadline)

    async def validate(self, properties: Properties) -> None:
        typed, _ = parse_properties(properties)
        check_tags(typed.Tags or {}, "Properties.Tags")

    async def provision(self, spec: Spec) -> str:
        typed, plain = parse_properties(spec.properties)
        launch = launch_of(spec, typed, plain, self.owner)
        instance_id = await self._provisioner.provision(launch, spec.logical_id, self._deadline())
        logger.info("provisioned %s (LogicalID %s)", instance_id, spec.logical_id or "-")
        return instance_id

    async def _ours(self, instance: str, deadline: Deadline) -> dict[str, Any]:
        """The live instance ``instance`` if it is ours; :class:`InstanceNotFound` if not."""
        if not instance.startswith("i-"):
            raise InstanceNotFound(instance)
        try:
            shown = await self.api.instances(deadline, ids=[instance])
        except APIError as exc:
            if exc.api_code in _NOT_FOUND:
                raise InstanceNotFound(instance) from None
            raise
        for found in shown:
            if (
                found.get("InstanceId") == instance
                and all_tags(found).get(OWNER) == self.owner
                and state_of(found) in LIVE_STATES
            ):
                return found
        raise InstanceNotFound(instance)

    async def label(self, instance: str, labels: Mapping[str, str]) -> None:
        check_tags(labels, "Label")
        deadline = self._deadline()
        found = await self._ours(instance, deadline)
        present = all_tags(found)
        ours = sum(1 for k in present if k in BOOKKEEPING)
        merged = {k: v for k, v in present.items() if k not in BOOKKEEPING} | dict(labels)
        check_tags(merged, "Label", ours=ours)
        if labels:
            tags = [{"Key": k, "Value": v} for k, v in labels.items()]
            await self.api.call("CreateTags", deadline, Resources=[instance], Tags=tags)

    async def destroy(self, instance: str, context: Context) -> None:
        deadline = self._deadline()
        await self._ours(instance, deadline)
        logger.info("destroying %s, reason: %r", instance, context.reason or "-")
        try:
            await self.api.call("TerminateInstances", deadline, InstanceIds=[instance])
        except APIError as exc:
            if exc.api_code in _NOT_FOUND:
                raise InstanceNotFound(instance) from None
            raise

    async def describe_instances(
        self, tags: Mapping[str, str] | None, properties: bool = False
    ) -> list[Description]:
        wanted = sorted((tags or {}).items())
        filters = api_filters(self.owner, dict(wanted))
        filters.append({"Name": "instance-state-name", "Values": list(LIVE_STATES)})
        key = repr(filters)
        deadline = self._deadline()

        async def fetch() -> list[dict[str, Any]]:
            return await self.api.instances(deadline, filters=filters)

        listed = await self._listings.get(key, fetch)
        found = [
            describe(instance, properties)
            for instance in listed
            if all_tags(instance).get(OWNER) == self.owner
            and state_of(instance) in LIVE_STATES
            and matches(all_tags(instance), wanted)
        ]
        return sorted(found)


_: type[Plugin] = EC2Plugin  # mypy checks that EC2Plugin satisfies the protocol
