"""lesync.json_codec reads and writes what the standard library would, only faster."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lesync.json_codec import decode, encode

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_decode_reads_what_json_loads_reads(value):
    text = json.dumps(value, ensure_ascii=False)
    expected = json.loads(text)
    assert decode(text.encode("utf-8")) == expected
    assert decode(text) == expected


@given(JSON_VALUES)
def test_encode_reads_back_equal(value):
    assert json.loads(encode(value)) == json.loads(json.dumps(value))


def test_integers_beyond_64_bits_stay_exact():
    big = 2**70 + 1
    assert decode(str(big).encode()) == big
    assert encode({"id": -big}) == f'{{"id":{-big}}}'.encode()


def test_a_lone_surrogate_is_read_and_written_as_json_does():
    line = b'{"text":"broken \\ud83d emoji"}'
    record = decode(line)
    assert record == {"text": "broken \ud83d emoji"}
    assert encode(record) == line


def test_non_standard_json_is_read_as_json_loads_reads_it():
    values = decode(b"[NaN, Infinity, -Infinity, 1e400]")
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, math.inf]


def test_encoding_is_compact_utf8_in_key_order():
    assert encode({"b": "é👍", "a": [1, 2.5, True, None]}) == '{"b":"é👍","a":[1,2.5,true,null]}'.encode()


def test_malformed_json_is_a_value_error():
    with pytest.raises(ValueError):
        decode(b'{"a": ')
