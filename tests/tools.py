"""What some tests need from the machine: skipped with a reason where it is missing, required
in CI (``CI=true``), where .ci/run provides it."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """End the test for want of ``reason``: a skip, or a failure in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    """The path of ``name``; skips the test naming ``package`` where the tool is missing, and
    fails it in CI, where the tool must be installed."""
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed ({package})")
    return found
