"""The ``ec2`` backend's settings: the endpoint, the per-call deadline and the request rates.

- ``endpoint``: ``serve --ec2-endpoint URL``; else botocore's own chain, which reads
  ``$AWS_ENDPOINT_URL_EC2`` (and ``$AWS_ENDPOINT_URL``, the profile's ``endpoint_url``), else
  AWS's regional endpoint. Region and credentials always come from the standard AWS chain
  (environment, shared config and profiles, instance metadata).
- ``deadline``: seconds one call of the plugin (a Provision, a Describe, ...) may take, its API
  retries and waits included (``serve --ec2-deadline``; :data:`DEFAULT_DEADLINE`).
- ``rates``: client-side token buckets, ``ACTION=RATE:BURST`` (requests a second, bucket size).
  ``ACTION`` is an EC2 action (``RunInstances``), ``Describe*`` (every describe action) or
  ``*`` (every other action). Defaults are the Cluster API AWS provider's: RunInstances 2/s
  burst 5, describes 20/s burst 100, the rest 5/s burst 200. Each action has a bucket of its
  own, per daemon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import msgspec

from instance_rpc.errors import PluginError

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_RATES",
    "Rate",
    "Settings",
    "parse_rates",
]

DEFAULT_DEADLINE = 60.0
"""Seconds a plugin call may take by default: long enough for a minute of throttling or an
instance's eventual consistency, shorter than InfraKit's group controller's poll period."""


class Rate(msgspec.Struct, frozen=True):
    """A token bucket: ``per_second`` requests a second on average, ``burst`` at once."""

    per_second: float
    burst: int


DESCRIBE = "Describe*"
OTHER = "*"

DEFAULT_RATES: Mapping[str, Rate] = {
    "RunInstances": Rate(2.0, 5),
    DESCRIBE: Rate(20.0, 100),
    OTHER: Rate(5.0, 200),
}


def parse_rates(values: Iterable[str]) -> dict[str, Rate]:
    """``ACTION=RATE:BURST`` options over :data:`DEFAULT_RATES`.

    Raises :class:`PluginError` naming the bad value (``--ec2-rate 'x': want ACTION=RATE:BURST``).
    """
    rates = dict(DEFAULT_RATES)
    for value in values:
        action, sep, numbers = value.partition("=")
        per_second, colon, burst = numbers.partition(":")
        try:
            rate = Rate(float(per_second), int(burst))
        except ValueError:
            rate = None
        if (
            not sep
            or not colon
            or not action
            or rate is None
            or not (math.isfinite(rate.per_second) and rate.per_second > 0 and rate.burst >= 1)
        ):
            raise PluginError(
                f"--ec2-rate {value!r}: want ACTION=RATE:BURST, a positive rate a second and "
                "a burst of at least 1 (ACTION: an EC2 action, Describe* or *)"
            )
        rates[action] = rate
    return rates


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """How the backend reaches the API (see the module's docstring)."""

    endpoint: str | None = None
    deadline: float = DEFAULT_DEADLINE
    rates: Mapping[str, Rate] = msgspec.field(default_factory=lambda: dict(DEFAULT_RATES))
    page_size: int = 1000
    """``MaxResults`` of each DescribeInstances page (5 to 1000)."""

    def rate(self, action: str) -> Rate:
        """The bucket of ``action``: its own entry, else the describes' or the others'."""
        if action in self.rates:
            return self.rates[action]
        if action.startswith("Describe"):
            return self.rates.get(DESCRIBE, DEFAULT_RATES[DESCRIBE])
        return self.rates.get(OTHER, DEFAULT_RATES[OTHER])
