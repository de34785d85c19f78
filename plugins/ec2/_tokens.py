"""ClientTokens: what makes RunInstances idempotent.

EC2 answers a RunInstances whose ``ClientToken`` it has seen with the instance that token made
(the same parameters), or ``IdempotentParameterMismatch`` (other parameters), for at least a
day after that instance ended. So:

- with a LogicalID, the token is derived from the plugin's name, the LogicalID and the
  instance's *generation* (0 for the LogicalID's first instance, one more for each next one):
  every daemon, every retry and a restarted daemon compute the same token for the same life
  of a LogicalID, and EC2 makes one instance for all of them;
- without a LogicalID, a random token per Provision, reused by that Provision's retries.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["logical_token", "random_token"]

_PREFIX = "irpc-"


def logical_token(owner: str, logical_id: str, generation: int) -> str:
    """The ClientToken of life ``generation`` of ``logical_id`` under the plugin ``owner``
    (64 ASCII characters at most, as EC2 requires)."""
    digest = hashlib.sha256(f"{owner}\0{logical_id}\0{generation}".encode()).hexdigest()
    return f"{_PREFIX}{digest[:48]}"


def random_token() -> str:
    """A ClientToken of one Provision without a LogicalID."""
    return f"{_PREFIX}{secrets.token_hex(24)}"
