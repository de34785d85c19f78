"""Log lines without secrets.

Values under keys that look secret (password, token, secret, key, credential, auth) are replaced by
``***`` wherever they appear in a log line: JSON members (``"apiToken": "abc"``) and ``name=value``
pairs. :class:`RedactingFilter` applies this to every record a handler emits; payload dumps are
also redacted where they are written.
"""

from __future__ import annotations

import logging
import re

__all__ = ["REDACTED", "REDACTED_MESSAGE", "RedactingFilter", "install_redaction", "redact"]

REDACTED = "***"
REDACTED_MESSAGE = "message_redacted"
"""A record attribute (``extra={REDACTED_MESSAGE: True}``): its message is already redacted and
has no ``%`` arguments, so :class:`RedactingFilter` leaves it as it is (its traceback, if any, is
still redacted). The per-call line is logged so, made and redacted in one step."""

_SECRET_WORD = r"(?:password|passwd|passphrase|token|secret|key|credential|auth)"
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_SCALAR = rf"(?:{_JSON_STRING}|-?\d[\d.eE+-]*|true|false|null)"
_JSON_MEMBER = re.compile(
    rf'("(?:[^"\\]|\\.)*?{_SECRET_WORD}(?:[^"\\]|\\.)*"\s*:\s*){_JSON_SCALAR}', re.IGNORECASE
)
_PYTHON_MEMBER = re.compile(
    rf"('[^'\\]*?{_SECRET_WORD}[^'\\]*'\s*:\s*)('(?:[^'\\]|\\.)*'|-?\d[\d.eE+-]*|True|False|None)",
    re.IGNORECASE,
)
_ASSIGNMENT = re.compile(rf"\b(\w*{_SECRET_WORD}\w*=)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)", re.IGNORECASE)
_ANY_SECRET_WORD = re.compile(_SECRET_WORD, re.IGNORECASE)


def _may_hold_secret(text: str) -> bool:
    """False only if no secret word is in ``text``: plain substring tests for ASCII text (a
    case-insensitive regex search costs about 20 times as much); non-ASCII text, where Unicode
    case folding lets more characters match, gets the regex."""
    if not text.isascii():
        return _ANY_SECRET_WORD.search(text) is not None
    lowered = text.lower()
    return (
        "pass" in lowered
        or "token" in lowered
        or "secret" in lowered
        or "key" in lowered
        or "credential" in lowered
        or "auth" in lowered
    )


def redact(text: str) -> str:
    """``text`` with every value under a secret-looking key replaced by ``***``."""
    if not _may_hold_secret(text):
        return text  # each pattern below needs a secret word; most lines (one per call) have none
    text = _JSON_MEMBER.sub(rf'\1"{REDACTED}"', text)
    text = _PYTHON_MEMBER.sub(rf"\1'{REDACTED}'", text)
    return _ASSIGNMENT.sub(rf"\1{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Redacts the formatted message (and traceback text) of every record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, REDACTED_MESSAGE, False):
            # The merged message replaces msg and args, so formatting does not merge them again.
            record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
