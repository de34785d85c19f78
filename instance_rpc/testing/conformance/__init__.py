"""The conformance suite: does a live Instance plugin (any language) honour the contract?

    report = await run_conformance("/run/infrakit/plugins/local", type_name="file")
    print(report.summary())          # "14 passed, 0 failed"

Every check talks to the plugin over its socket through :class:`~instance_rpc.PluginClient`, so
it sees exactly what an orchestrator sees. Checks are independent of each other: each makes the
instances it needs, tagged with a tag unique to the run (:data:`RUN_TAG`) and one naming the
check (:data:`CHECK_TAG`). Whatever the run created is destroyed at the end, even when checks
fail; the last result, ``cleanup``, says whether that worked.

The checks are grouped by the method under test (as csi-sanity groups its own): handshake.py,
validate.py, provision.py, describe.py, label.py, destroy.py, and lifecycle.py for methods
together; run.py holds what they share, report.py the results, runner.py the order and the run.
"""

from __future__ import annotations

from .lifecycle import RACE_DELAY_SECONDS, SLOW_TO_STOP_INIT
from .provision import FULL_INIT, UNICODE_TEXT
from .report import CheckFailed, CheckResult, ConformanceReport
from .run import CHECK_TAG, DEFAULT_BAD_PROPERTIES, DEFAULT_PROPERTIES, RUN_TAG
from .runner import CHECK_NAMES, CLEANUP, CheckFunction, run_conformance

__all__ = [
    "CHECK_NAMES",
    "CHECK_TAG",
    "CLEANUP",
    "DEFAULT_BAD_PROPERTIES",
    "DEFAULT_PROPERTIES",
    "FULL_INIT",
    "RACE_DELAY_SECONDS",
    "RUN_TAG",
    "SLOW_TO_STOP_INIT",
    "UNICODE_TEXT",
    "CheckFailed",
    "CheckFunction",
    "CheckResult",
    "ConformanceReport",
    "run_conformance",
]
