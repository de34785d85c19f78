"""What a conformance run finds: each check's result, and the report of the run."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CheckFailed", "CheckResult", "ConformanceReport", "expect"]


class CheckFailed(AssertionError):
    """A check found the plugin breaking the contract; the message says how."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        """One line for people: ``PASS  name (3 ms)`` or ``FAIL  name: what went wrong``."""
        if self.passed:
            return f"PASS  {self.name} ({self.seconds * 1000:.0f} ms)"
        return f"FAIL  {self.name}: {self.detail}"


@dataclass
class ConformanceReport:
    target: str
    type_name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"
