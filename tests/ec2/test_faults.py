"""Idempotency and the API's limits under the proxy's faults: lost answers, eventual
consistency, throttling and 5xx answers never double, leak or untag an instance; calls slow
down and succeed within their deadline, at the buckets' rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from instance_rpc import TERMINATION, Spec
from instance_rpc.errors import PluginError
from instance_rpc_plugins.ec2 import EC2Plugin
from instance_rpc_plugins.ec2._tags import LOGICAL_ID, OWNER, all_tags
from tests.ec2.api_server import APIServer
from tests.ec2.conftest import props
from tests.ec2.direct import everything
from tests.ec2.fault_proxy import FaultProxy


@pytest.fixture
async def daemons(proxy: FaultProxy, owner: str) -> AsyncIterator[Callable[..., EC2Plugin]]:
    """Backends of one name over one endpoint: the state of several daemons is the API's."""
    made: list[EC2Plugin] = []

    def make(**options: Any) -> EC2Plugin:
        backend = EC2Plugin(name=owner, ec2_endpoint=proxy.url, **{"ec2_deadline": 30, **options})
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


async def new_instances(api: APIServer, before: set[str]) -> list[dict[str, Any]]:
    return [i for i in await everything(api.url) if i["InstanceId"] not in before]


async def ids(api: APIServer) -> set[str]:
    return {i["InstanceId"] for i in await everything(api.url)}


def all_tagged(instances: list[dict[str, Any]], owner: str) -> bool:
    return all(all_tags(i).get(OWNER) == owner for i in instances)


FAULTS: dict[str, Callable[[FaultProxy], None]] = {
    "answer dropped": lambda p: setattr(p, "drop_runs", 1),
    "answers dropped twice": lambda p: setattr(p, "drop_runs", 2),
    "hidden for 2 s": lambda p: setattr(p, "hide_for", 2.0),
    "throttled": lambda p: p.fail(4, action="RunInstances"),
    "500s": lambda p: p.fail(3, "InternalError", status=500),
    "throttled describes": lambda p: p.fail(4, action="DescribeInstances"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("logical", [True, False], ids=["logical-id", "no-logical-id"])
async def test_one_instance_per_provision_under_each_fault(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy, api_server: APIServer,
    owner: str, fault: str, logical: bool,
) -> None:  # fmt: skip
    backend = daemons()
    before = await ids(api_server)
    FAULTS[fault](proxy)
    spec = Spec(properties=props(), tags={"f": "1"}, logical_id="one" if logical else None)
    instance = await backend.provision(spec)
    if "dropped" in fault:
        assert proxy.dropped == (2 if "twice" in fault else 1)  # the fault did happen
    made = await new_instances(api_server, before)
    assert [i["InstanceId"] for i in made] == [instance]
    assert all_tagged(made, owner)
    assert [d.id for d in await backend.describe_instances({"f": "1"})] == [instance]
    if logical:
        assert await daemons().provision(spec) == instance  # another daemon, same answer
        assert len(await new_instances(api_server, before)) == 1


async def test_a_provision_given_up_is_finished_by_the_next_one(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy, api_server: APIServer, owner: str
) -> None:
    """A daemon that timed out (or died) after its RunInstances: the next Provision of the
    LogicalID, by any daemon, returns that instance."""
    before = await ids(api_server)
    proxy.hide_for = 3.0
    spec = Spec(properties=props(), logical_id="slow")
    # The deadline ends while the instance is hidden: between describes ("has not shown it"), or
    # during one on a busy machine, whose answer comes too late.
    gave_up = r"(has not shown it|DescribeInstances: no answer) within the 1 s deadline"
    with pytest.raises(PluginError, match=gave_up):
        await daemons(ec2_deadline=1).provision(spec)
    [made] = await new_instances(api_server, before)
    assert all_tags(made)[LOGICAL_ID] == "slow"
    assert await daemons().provision(spec) == made["InstanceId"]  # waits for it to show
    assert len(await new_instances(api_server, before)) == 1


async def test_concurrent_provisions_of_one_logical_id_make_one_instance(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy, api_server: APIServer
) -> None:
    before = await ids(api_server)
    proxy.hide_for = 1.0
    spec = Spec(properties=props(), logical_id="together")
    backends = [daemons() for _ in range(5)]
    answers = await asyncio.gather(*(b.provision(spec) for b in backends for _ in range(4)))
    assert len(set(answers)) == 1
    assert len(await new_instances(api_server, before)) == 1


async def test_a_destroyed_logical_id_gets_a_new_instance_each_time(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy, api_server: APIServer
) -> None:
    backend = daemons()
    spec = Spec(properties=props(), logical_id="again")
    seen: list[str] = []
    for _ in range(3):
        instance = await backend.provision(spec)
        assert instance not in seen
        seen.append(instance)
        await backend.destroy(instance, TERMINATION)
    changed = Spec(properties=props(Tags={"v": "2"}), logical_id="again")
    assert await backend.provision(changed) not in seen


async def test_an_ended_life_the_api_no_longer_lists_is_walked_past(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy, api_server: APIServer, owner: str
) -> None:
    """Past lives whose instances the API forgot (terminated instances vanish from listings
    after about an hour, their tokens stay bound for a day): the Provision walks to a token
    not used yet, and never returns an ended instance."""
    backend = daemons()
    spec = Spec(properties=props(), logical_id="forgotten")
    first = await backend.provision(spec)
    await backend.destroy(first, TERMINATION)
    proxy.forgotten.add(first)  # the ended instance is no longer listed
    proxy.replay_age = 3 * 3600
    second = await daemons(ec2_deadline=5).provision(spec)
    assert second != first
    assert proxy.replayed >= 1


async def test_throttled_calls_slow_down_and_succeed_within_their_deadline(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy
) -> None:
    backend = daemons(ec2_deadline=20)
    proxy.fail(7)  # every action, seven in a row
    started = time.monotonic()
    instance = await backend.provision(Spec(properties=props(), tags={"t": "1"}))
    assert time.monotonic() - started > 0.5  # backed off, not hammered
    assert [d.id for d in await backend.describe_instances({"t": "1"})] == [instance]


async def test_a_throttled_call_past_its_deadline_says_so_in_one_line(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy
) -> None:
    proxy.fail(1000, action="DescribeInstances")
    with pytest.raises(PluginError) as raised:
        await daemons(ec2_deadline=2).describe_instances({})
    message = raised.value.message
    assert message.startswith("ec2 DescribeInstances: RequestLimitExceeded: ")
    assert "within the 2 s deadline" in message
    assert "\n" not in message


def within_bucket(times: list[float], per_second: float, burst: int) -> bool:
    """Whether every stretch of calls fits a bucket of ``burst`` refilled at ``per_second``."""
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            if j - i + 1 > burst + (times[j] - times[i]) * per_second + 0.5:
                return False
    return True


async def test_the_api_call_rate_stays_within_the_buckets(
    daemons: Callable[..., EC2Plugin], proxy: FaultProxy
) -> None:
    backend = daemons(ec2_rate=["RunInstances=4:3", "Describe*=10:5"])
    proxy.fail(3, action="RunInstances")
    await asyncio.gather(*(backend.provision(Spec(properties=props())) for _ in range(10)))
    runs = [t for t, action in proxy.calls if action == "RunInstances"]
    describes = [t for t, action in proxy.calls if action == "DescribeInstances"]
    assert len(runs) == 13
    assert within_bucket(runs, 4, 3)
    assert within_bucket(describes, 10, 5)
    assert not within_bucket(runs, 40, 2)  # the check can fail
