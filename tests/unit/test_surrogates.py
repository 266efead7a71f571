"""Lone surrogates: scanners and the policy read U+FFFD in their place; JSON Wardgate writes keeps them, escaped."""

from __future__ import annotations

import json

from wardgate.audit import canonical_json, event_hash
from wardgate.surrogates import json_text, scannable, scannable_value

LONE = json.loads('"key \\ud800AKIA and \\udfff, a pair \\ud83d\\ude00"')


def test_scannable_replaces_each_lone_surrogate_one_for_one():
    assert scannable(LONE) == "key \ufffdAKIA and \ufffd, a pair \U0001f600"
    assert len(scannable(LONE)) == len(LONE)  # finding spans still fit the original text
    scannable(LONE).encode()
    text = "plain ascii"
    assert scannable(text) is text


def test_scannable_value_reaches_every_string_and_key():
    assert scannable_value({LONE: [LONE, 1, {"k": LONE}]}) == {
        scannable(LONE): [scannable(LONE), 1, {"k": scannable(LONE)}]
    }


def test_json_text_escapes_only_when_a_lone_surrogate_needs_it():
    assert json_text({"a": "é"}) == '{"a": "é"}'
    escaped = json_text({"a": "é", "b": LONE})
    assert escaped.isascii()
    assert json.loads(escaped) == {"a": "é", "b": LONE}


def test_an_audit_event_with_a_lone_surrogate_hashes_the_same_after_a_round_trip():
    """`wardgate audit verify` re-reads each line and hashes it again."""
    event = {"tool": {"name": LONE}, "seq": 1}
    line = canonical_json(event)
    line.encode()
    assert event_hash(json.loads(line)) == event_hash(event)
