from __future__ import annotations

import logging

import pytest

from instance_rpc.logs import RedactingFilter, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"password":"hunter2","user":"bob"}', '{"password":"***","user":"bob"}'),
        ('{"P":{"apiToken": "abc\\"d", "size": 3}}', '{"P":{"apiToken": "***", "size": 3}}'),
        ('{"ssh_key":12345,"db_secret":null}', '{"ssh_key":"***","db_secret":"***"}'),
        ("{'Password': 'x', 'name': 'n'}", "{'Password': '***', 'name': 'n'}"),
        ("connect token=abc123 host=h", "connect token=*** host=h"),
        ("AUTH_HEADER='Bearer x' next", "AUTH_HEADER=*** next"),
        ('{"keyboard_layout":"us"}', '{"keyboard_layout":"***"}'),
        ('{"group":"web","size":1}', '{"group":"web","size":1}'),
    ],
)  # fmt: skip
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_redacts_formatted_messages_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", ('{"token":"t0p"}',), None)
    try:
        raise ValueError("password=swordfish")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == 'got {"token":"***"}'
    assert record.exc_text is not None
    assert "swordfish" not in record.exc_text
    assert "password=***" in record.exc_text
