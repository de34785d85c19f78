"""System tools some tests need: skipped with a reason where missing, required in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    """The path of ``name``; skips the test naming ``package`` where the tool is missing, and
    fails it in CI (``CI=true``), where the tool must be installed."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI ({package})")
        pytest.skip(f"{name} is not installed ({package})")
    return found
