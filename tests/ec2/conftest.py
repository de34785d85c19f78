"""Fixtures of the EC2 tests: moto's server per session (skipped, with how to enable it, where
it cannot run; a failure when INSTANCE_RPC_REQUIRE_EC2=1), a fault proxy per test in front of
it, an owner name of the test's own, and an ec2 backend through the proxy."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.ec2.api_server import AMI, CREDENTIALS, HOW_TO_ENABLE, APIServer, APIUnavailable
from tests.ec2.api_server import api_server as start_api_server
from tests.ec2.fault_proxy import FaultProxy, fault_proxy
from tests.tools import unavailable_unless_required

REQUIRE = "INSTANCE_RPC_REQUIRE_EC2"


@pytest.fixture(scope="session")
def api_server() -> Iterator[APIServer]:
    try:
        import aiobotocore  # noqa: F401
    except ImportError:
        reason = "aiobotocore is not installed (pip install '.[ec2]')"
    else:
        reason = ""
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        if reason:
            raise APIUnavailable(reason)
        with start_api_server() as started:
            yield started
            return
    except APIUnavailable as exc:
        message = f"{HOW_TO_ENABLE} ({exc})"
        unavailable_unless_required(REQUIRE, message)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def proxy(api_server: APIServer) -> Iterator[FaultProxy]:
    with fault_proxy(api_server.url) as started:
        yield started


@pytest.fixture
def owner() -> str:
    """A plugin name of the test's own: instances of other tests are never its business."""
    return f"test-{secrets.token_hex(4)}"


def props(**more: Any) -> dict[str, Any]:
    """Properties of a small instance of moto's image."""
    run = {"ImageId": AMI, "InstanceType": "t3.micro", **more.pop("RunInstancesInput", {})}
    return {"RunInstancesInput": run, **more}


@pytest.fixture
async def ec2(proxy: FaultProxy, owner: str) -> AsyncIterator[Any]:
    from instance_rpc_plugins.ec2 import EC2Plugin

    backend = EC2Plugin(name=owner, ec2_endpoint=proxy.url, ec2_deadline=30, page_size=5)
    yield backend
    await backend.aclose()
