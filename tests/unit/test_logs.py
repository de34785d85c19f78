from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instance_rpc.log_format import _redacted_head
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


_SECRET_WORDS = ("password", "token", "secret", "key", "auth", "Credential")
# A head's quotes and brackets are inside whole JSON strings (log_format._shown).
_PIECES = st.sampled_from(
    [
        *_SECRET_WORDS,
        *("=", ":", '"x"', '"token"', '"a\\"b"', '"{\\"key\\": 1}"', "'x'", '"{x"'),
        *(" ", ",", "x", "1", "-", "(", ".", "Bearer"),
    ]
)


@settings(max_examples=500)
@given(
    head=st.lists(_PIECES, max_size=12).map("".join),
    tenths=st.integers(min_value=0, max_value=10**7),
)
def test_a_call_lines_duration_never_changes_what_its_head_redacts(head: str, tenths: int) -> None:
    # The per-call line redacts its head alone (log_format._redacted_head), then appends this.
    duration = f" ({tenths / 10:.1f} ms)"
    assert redact(head + duration) == redact(head) + duration


def test_a_repeated_call_line_head_is_redacted_as_the_first_time() -> None:
    head = 'Instance.Destroy type=. instance="token=abc" ok'
    assert _redacted_head(head) == redact(head)
    assert _redacted_head(head) == redact(head)  # the kept answer
    assert "abc" not in _redacted_head(head)
