"""Redaction, property by property: a line that was JSON stays JSON, with every value under a
secret key replaced whole, however the key is spelt or escaped and however deep it sits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instance_rpc.log_format import JsonFormatter
from instance_rpc.logs import REDACTED, redact

MARK = "S3KR1T"
"""Every secret value holds it; nothing else does, so finding it anywhere is a leak."""

SECRET_NAMES = [
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey",
    "access_key", "private_key", "credential", "credentials", "authorization", "cookie",
    "session",
]  # fmt: skip
PLAIN_NAMES = ["name", "size", "image", "group", "tags", "id", "zone", "Type", "LogicalID"]

_SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8).filter(
    lambda text: MARK not in text and redact(text) == text
)


def _spelt(name: str) -> st.SearchStrategy[str]:
    """``name`` in some case, perhaps inside a longer key (``dbPassword``, ``X-Auth-Token``)."""
    return st.tuples(
        st.sampled_from(["", "db_", "X-", "my"]),
        st.lists(st.booleans(), min_size=len(name), max_size=len(name)),
        st.sampled_from(["", "_value", "s", "Id"]),
    ).map(
        lambda parts: (
            parts[0]
            + "".join(c.upper() if up else c for c, up in zip(name, parts[1], strict=True))
            + parts[2]
        )
    )


_SECRET_KEY = st.sampled_from(SECRET_NAMES).flatmap(_spelt)
_SECRET_VALUE: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.builds(lambda s: f"{s}{MARK}{s}", _SAFE_TEXT),
        st.builds(lambda s: f"{MARK} with {s}, spaces", _SAFE_TEXT),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(PLAIN_NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)
_PLAIN_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _SAFE_TEXT
)


def _documents() -> st.SearchStrategy[Any]:
    return st.recursive(
        _PLAIN_VALUE,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(PLAIN_NAMES),
                inner,
                max_size=3,
            )
            | st.dictionaries(_SECRET_KEY, _SECRET_VALUE, min_size=1, max_size=2).flatmap(
                lambda secret: st.dictionaries(st.sampled_from(PLAIN_NAMES), inner, max_size=2).map(
                    lambda plain: {**plain, **secret}
                )
            )
        ),
        max_leaves=12,
    )


def _secret(key: str) -> bool:
    """What the generated keys mean: a secret name in any case, ``_`` and ``-`` aside."""
    folded = key.lower().replace("_", "").replace("-", "")
    return any(name.replace("_", "") in folded for name in SECRET_NAMES)


def _expected(value: Any) -> Any:
    """``value`` with what sits under a secret key replaced by the redaction mark."""
    if isinstance(value, dict):
        return {key: REDACTED if _secret(key) else _expected(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expected(item) for item in value]
    return value


def _dump(value: Any, escape_keys: bool, indent: bool) -> str:
    """JSON of ``value``; with ``escape_keys`` every other character of a key is a ``\\u``
    escape (``"pa\\u0073s\\u0077o\\u0072d"``)."""
    if isinstance(value, dict):
        separator = ": " if indent else ":"
        members = [
            f"{_key(key, escape_keys)}{separator}{_dump(item, escape_keys, indent)}"
            for key, item in value.items()
        ]
        return "{" + (", " if indent else ",").join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(item, escape_keys, indent) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _key(key: str, escape: bool) -> str:
    if not escape:
        return json.dumps(key)
    return '"' + "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(key)) + '"'


@settings(max_examples=300, deadline=None)
@given(document=_documents(), escape_keys=st.booleans(), indent=st.booleans())
def test_json_stays_json_and_keeps_no_secret(
    document: Any, escape_keys: bool, indent: bool
) -> None:
    line = _dump(document, escape_keys, indent)
    redacted = redact(line)
    assert MARK not in redacted
    assert json.loads(redacted) == _expected(document)


@settings(max_examples=200, deadline=None)
@given(document=_documents(), prefix=st.sampled_from(["got ", "request body: ", ""]))
def test_json_inside_a_quoted_field_stays_json_and_keeps_no_secret(
    document: Any, prefix: str
) -> None:
    # As the text format shows a value that is not a plain word: a JSON string.
    line = f"Instance.Provision body={json.dumps(prefix + json.dumps(document))} ok"
    redacted = redact(line)
    assert MARK not in redacted
    shown = redacted.removeprefix("Instance.Provision body=").removesuffix(" ok")
    assert json.loads(json.loads(shown).removeprefix(prefix)) == _expected(document)


@settings(max_examples=200, deadline=None)
@given(document=_documents())
def test_json_log_lines_stay_json_and_keep_no_secret(document: Any) -> None:
    message = f"payload {json.dumps(document)}"
    line = JsonFormatter().format_fields(0.0, "DEBUG", "x", message, None, None)
    assert MARK not in line
    decoded = json.loads(line)["message"].removeprefix("payload ")
    assert json.loads(decoded) == _expected(document)


_URL_PART = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=10)


@given(
    scheme=st.sampled_from(["postgres", "https", "redis", "amqp", "git+ssh"]),
    user=_URL_PART,
    password=_URL_PART.map(lambda p: f"{p}{MARK}"),
    host=_URL_PART,
    quoted=st.booleans(),
)
def test_url_passwords_are_redacted(
    scheme: str, user: str, password: str, host: str, quoted: bool
) -> None:
    url = f"{scheme}://{user}:{password}@{host}:5432/db?x=1"
    line = f"connecting to {json.dumps(url) if quoted else url} now"
    redacted = redact(line)
    assert MARK not in redacted
    assert f"{scheme}://{user}:{REDACTED}@{host}:5432/db?x=1" in redacted
    assert redacted.endswith(" now")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"sid": "token=abc"}', '{"sid": "token=***"}'),
        ('instance="token=abc" ok', 'instance="token=***" ok'),
        ('{"pass\\u0077ord": "x", "a": 1}', '{"pass\\u0077ord": "***", "a": 1}'),
        ('{"auth": {"user": "u", "pwd": "p"}, "n": 1}', '{"auth": "***", "n": 1}'),
        ('{"tokens": ["a", "b"], "n": [1]}', '{"tokens": "***", "n": [1]}'),
        ("{'cookie': {'a': '}'}, 'n': 1}", "{'cookie': '***', 'n': 1}"),
        ("pwd=hunter2, session: abc; user=bob", "pwd=***, session: ***; user=bob"),
        ("Authorization: Bearer abc.def next", "Authorization: *** next"),
        ("(token=abc) next", "(token=***) next"),
        ("dsn postgres://u:p@ss@db/x", "dsn postgres://u:***@db/x"),
        ("the password was rotated", "the password was rotated"),
        ('{"db_pass": 1, "PGPASS": [2], "passive_mode": 3}',
         '{"db_pass": "***", "PGPASS": "***", "passive_mode": 3}'),
    ],
)  # fmt: skip
def test_redaction_ends_where_the_value_ends(line: str, expected: str) -> None:
    assert redact(line) == expected
