"""The EC2 API through aiobotocore: each call through its action's token bucket, retried with
backoff and jitter on throttling, 5xx answers and broken connections, within a deadline.

botocore's own retries are off (one attempt a call): the retries here are the ones the
deadline bounds and the buckets pace. Every action this backend uses is safe to repeat
(describes, CreateTags, TerminateInstances, AttachVolume's "already attached", and
RunInstances with its ClientToken). Errors reach callers as one line naming the action and
the API's code: ``ec2 RunInstances: InvalidAMIID.Malformed: ...`` (:class:`APIError`).
aiobotocore is imported only when the first client is made (:class:`ExtraMissing` without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from instance_rpc.errors import PluginError

from ._buckets import Buckets
from ._settings import Settings

__all__ = ["API", "THROTTLING", "APIError", "Deadline", "ExtraMissing"]

logger = logging.getLogger("instance_rpc_plugins.ec2")

THROTTLING = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "EC2ThrottledException",
    }
)
_SERVER_CODES = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"})
_BACKOFF_BASE = 0.1  # seconds; doubled each attempt
_BACKOFF_CAP = 5.0


class ExtraMissing(PluginError):
    """aiobotocore is not installed."""

    FIELDS = ()

    def __init__(self) -> None:
        super().__init__(
            "the ec2 backend needs aiobotocore: install instance-rpc with its ec2 extra "
            "(pip install '.[ec2]' in the clone)"
        )


class APIError(PluginError):
    """The API refused a call (or it could not be made in time): ``code`` is the API's error
    code (``"RequestLimitExceeded"``), or ``""`` for a connection failure; ``api_message`` the
    API's own words. All three travel in the JSON-RPC error's ``data``."""

    FIELDS = ("action", "api_code", "api_message")

    def __init__(self, action: str, api_code: str, api_message: str) -> None:
        self.action = action
        self.api_code = api_code
        self.api_message = api_message
        text = f"{api_code}: {api_message}" if api_code else api_message
        super().__init__(f"ec2 {action}: {' '.join(text.split())}")


class Deadline:
    """The monotonic time by which a plugin call must be done."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()


class API:
    """One aiobotocore EC2 client (made on first use, on the running loop), its buckets and
    call counters (``calls``: API requests sent, by action, retries included)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.buckets = Buckets(settings)
        self.calls: Counter[str] = Counter()
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def _ec2(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    from aiobotocore.config import AioConfig
                    from aiobotocore.session import get_session
                except ImportError:
                    raise ExtraMissing() from None
                config = AioConfig(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=30,
                    max_pool_connections=50,
                )
                stack = contextlib.AsyncExitStack()
                made = get_session().create_client(
                    "ec2", endpoint_url=self.settings.endpoint, config=config
                )
                try:
                    self._client = await stack.enter_async_context(made)
                except Exception as exc:  # no region, a bad endpoint, ...
                    raise PluginError(f"ec2: cannot make an API client: {exc}") from None
                self._stack = stack
        return self._client

    async def close(self) -> None:
        """Close the client's connections (a new client is made if the API is used again)."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def call(self, action: str, deadline: Deadline, **params: Any) -> dict[str, Any]:
        """Call ``action`` (``"RunInstances"``) with the API's member names as ``params``.

        Retries throttling, 5xx and broken connections with full-jitter exponential backoff
        until ``deadline``; raises :class:`APIError` (the last error) past it or for any
        other error.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        ec2 = await self._ec2()
        method = getattr(ec2, _snake(action))
        attempt = 0
        while True:
            try:
                waited = await asyncio.wait_for(
                    self.buckets.take(action), max(0.0, deadline.left())
                )
            except TimeoutError:
                raise APIError(
                    action,
                    "",
                    f"the rate limit leaves no room within the {deadline.seconds:g} s deadline",
                ) from None
            if waited > 1.0:
                logger.debug("ec2 %s: waited %.1f s for the rate limit", action, waited)
            self.calls[action] += 1
            try:
                answer: dict[str, Any] = await asyncio.wait_for(method(**params), deadline.left())
                return answer
            except TimeoutError:  # the deadline (an OSError too: caught first)
                raise APIError(
                    action, "", f"no answer within the {deadline.seconds:g} s deadline"
                ) from None
            except ClientError as exc:
                error = exc.response.get("Error") or {}
                code = str(error.get("Code") or "")
                meta = exc.response.get("ResponseMetadata") or {}
                status = int(meta.get("HTTPStatusCode") or 0)
                failure = APIError(action, code or str(status), str(error.get("Message") or ""))
                if code not in THROTTLING and code not in _SERVER_CODES and status < 500:
                    raise failure from None
            except (BotoCoreError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
                failure = APIError(action, "", f"cannot reach the API: {reason}")
            attempt += 1
            pause = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))
            if deadline.left() <= pause:
                raise APIError(
                    action,
                    failure.api_code,
                    f"{_message(failure)} (gave up after {attempt} attempts within the "
                    f"{deadline.seconds:g} s deadline)",
                ) from None
            logger.debug("ec2 %s: %s; retry %d in %.2f s", action, failure, attempt, pause)
            await asyncio.sleep(pause)

    async def pages(
        self, action: str, key: str, deadline: Deadline, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a paginated ``action``, following ``NextToken`` to the end."""
        token: str | None = None
        while True:
            page = await self.call(
                action, deadline, **params, **({"NextToken": token} if token else {})
            )
            yield page
            token = page.get("NextToken")
            if not token:
                return

    async def instances(
        self, deadline: Deadline, *, filters: Sequence[Mapping[str, Any]] | None = None,
        ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every instance DescribeInstances gives for ``filters`` or ``ids`` (all pages)."""
        params: dict[str, Any] = {}
        if filters:
            params["Filters"] = list(filters)
        if ids:
            params["InstanceIds"] = ids
        else:
            params["MaxResults"] = self.settings.page_size
        found: list[dict[str, Any]] = []
        async for page in self.pages("DescribeInstances", "Reservations", deadline, **params):
            for reservation in page.get("Reservations") or ():
                found.extend(reservation.get("Instances") or ())
        return found


def _message(error: APIError) -> str:
    prefix = f"ec2 {error.action}: "
    text = error.message
    text = text[len(prefix) :] if text.startswith(prefix) else text
    code = f"{error.api_code}: "
    return text[len(code) :] if text.startswith(code) else text


def _snake(action: str) -> str:
    out = [action[0].lower()]
    for char in action[1:]:
        out.append(f"_{char.lower()}" if char.isupper() else char)
    return "".join(out)
