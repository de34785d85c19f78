"""Log lines without secrets.

Values under keys that look secret are replaced by ``***`` wherever they appear in a log line.
A key looks secret when its name contains ``password``, ``passwd``, ``passphrase``, ``pwd``,
``secret``, ``token``, ``key`` (``api_key``, ``apikey``, ``access_key``, ``private_key``...),
``credential``, ``auth`` (``authorization``), ``cookie`` or ``session``, or ends in ``pass``
(any case). Redacted are:

- JSON members (``"apiToken": "abc"``), keys written with ``\\u`` escapes (``"pass\\u0077ord"``)
  included; an object or array under a secret key is replaced whole (``"***"``), so a line
  that was JSON stays JSON;
- JSON inside a JSON string (a request dumped into a quoted field): the string is decoded,
  redacted and encoded again;
- Python reprs (``{'password': 'x'}``) and ``name=value`` / ``name: value`` pairs;
- the password of a URL (``postgres://user:***@host``).

A value is replaced up to its own end: a quoted value to its closing quote, an object or array to
its closing bracket, a bare value to the next blank, quote, ``,``, ``;``, ``&`` or closing bracket;
nothing after it is touched. :class:`RedactingFilter` applies this to every record a handler
emits; payload dumps are also redacted where they are written.
"""

from __future__ import annotations

import logging
import re

import msgspec

from .log_output import escape_exception_values

__all__ = ["REDACTED", "REDACTED_MESSAGE", "RedactingFilter", "install_redaction", "redact"]

REDACTED = "***"
REDACTED_MESSAGE = "message_redacted"
"""A record attribute (``extra={REDACTED_MESSAGE: True}``): its message is already redacted and
has no ``%`` arguments, so :class:`RedactingFilter` leaves it as it is (its traceback, if any, is
still redacted). The per-call line is logged so, made and redacted in one step."""

_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pass(?![a-z])|pwd|secret|token|key|credential|auth"
    r"|cookie|session)"
)
_SECRET_NAME = re.compile(_SECRET_WORD, re.IGNORECASE)
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_PYTHON_STRING = r"'(?:[^'\\]|\\.)*'"
_KEY = re.compile(
    rf"(?P<json>{_JSON_STRING})(?P<json_colon>\s*:\s*)?"
    rf"|(?P<python>'[^'\\\n]*?{_SECRET_WORD}[^'\\\n]*')(?P<python_colon>\s*:\s*)"
    rf"|(?P<bare>\b[\w.-]*?{_SECRET_WORD}[\w.-]*)(?P<bare_sign>=|:[ \t]+)",
    re.IGNORECASE,
)
_JSON_STRING_AT = re.compile(_JSON_STRING)
_PYTHON_STRING_AT = re.compile(_PYTHON_STRING)
_BRACKETS = re.compile(rf"{_JSON_STRING}|{_PYTHON_STRING}|[{{}}\[\]]")
_BARE_VALUE = re.compile(r"[^\s,;&\"'(){}\[\]<>]*")
_AUTH_SCHEMES = frozenset({"basic", "bearer", "digest", "token", "negotiate"})
_URL_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'\\]*:)[^\s/\"'\\]+@")
_JSON_DECODER = msgspec.json.Decoder(str)
_JSON_ENCODER = msgspec.json.Encoder()


def _may_hold_secret(text: str) -> bool:
    """False only if ``text`` can hold no secret: no secret word, no ``\\u`` escape, no URL.
    Plain substring tests for ASCII text (a case-insensitive regex search costs about 20 times
    as much); non-ASCII text, where Unicode case folding lets more characters match, gets the
    regex."""
    if "\\u" in text or "://" in text:
        return True
    if not text.isascii():
        return _SECRET_NAME.search(text) is not None
    lowered = text.lower()
    return (
        "pass" in lowered
        or "pwd" in lowered
        or "token" in lowered
        or "secret" in lowered
        or "key" in lowered
        or "credential" in lowered
        or "auth" in lowered
        or "cookie" in lowered
        or "session" in lowered
    )


def redact(text: str) -> str:
    """``text`` with every value under a secret-looking key, and every URL's password, replaced
    by ``***`` (see the module docstring)."""
    if not _may_hold_secret(text):
        return text  # most lines (one per call) hold none
    return _redact(text)


def _redact(text: str) -> str:
    pieces: list[str] = []
    position = 0
    while (found := _KEY.search(text, position)) is not None:
        pieces.append(_redact_url(text[position : found.start()]))
        key = found.group()
        position = found.end()
        if found.group("json") is not None:
            literal = found.group("json")
            if found.group("json_colon") is None:
                pieces.append(_redact_string(literal))
                continue
            if not _secret_key(literal):
                pieces.append(key)
                continue
            replacement = f'"{REDACTED}"'
        elif found.group("python") is not None:
            replacement = f"'{REDACTED}'"
        else:
            replacement = REDACTED
        end = _value_end(text, position)
        pieces.append(key + replacement if end > position else key)
        position = end
    pieces.append(_redact_url(text[position:]))
    return "".join(pieces)


def _redact_url(text: str) -> str:
    if "://" not in text:
        return text
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def _decoded(literal: str) -> str | None:
    """The value of a JSON string literal; ``None`` if it is not one (an unpaired quote)."""
    if "\\" not in literal:
        return literal[1:-1]
    try:
        return _JSON_DECODER.decode(literal)
    except msgspec.DecodeError:
        return None


def _secret_key(literal: str) -> bool:
    name = _decoded(literal)
    return _SECRET_NAME.search(literal if name is None else name) is not None


def _redact_string(literal: str) -> str:
    """A JSON string literal with what its value holds redacted, encoded again if it changed."""
    value = _decoded(literal)
    if value is None:
        return f'"{_redact(literal[1:-1])}"'
    if not _may_hold_secret(value):
        return literal
    redacted = _redact(value)
    return literal if redacted == value else _JSON_ENCODER.encode(redacted).decode()


def _value_end(text: str, start: int) -> int:
    """Where the value that begins at ``start`` ends (the end of ``text`` if it never does)."""
    if start >= len(text):
        return start
    first = text[start]
    if first in "\"'":
        string = (_JSON_STRING_AT if first == '"' else _PYTHON_STRING_AT).match(text, start)
        return len(text) if string is None else string.end()
    if first in "{[":
        depth = 0
        for found in _BRACKETS.finditer(text, start):
            token = found.group()
            if token in "{[":
                depth += 1
            elif token in "}]":
                depth -= 1
                if depth == 0:
                    return found.end()
        return len(text)
    end = _BARE_VALUE.match(text, start).end()  # type: ignore[union-attr]  # always matches
    if text[start:end].lower() in _AUTH_SCHEMES and text[end : end + 1] == " ":
        credentials = _BARE_VALUE.match(text, end + 1).end()  # type: ignore[union-attr]
        if credentials > end + 1:  # "Bearer abc": the scheme and its credentials
            return credentials
    return end


class RedactingFilter(logging.Filter):
    """Redacts the formatted message (and traceback text) of every record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, REDACTED_MESSAGE, False):
            # The merged message replaces msg and args, so formatting does not merge them again.
            record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = escape_exception_values(formatted, record.exc_info[1])
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
