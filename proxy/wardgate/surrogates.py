"""Lone UTF-16 surrogates: JSON may carry them (`"\\ud800"`), UTF-8 cannot.

A JSON string escape may name one half of a surrogate pair on its own, and upstreams accept it; Python keeps it as a
code point that no UTF-8 encoder takes, so anything that encodes the text (RE2, tokenizers, cache keys) fails on it.
Scanners and the policy get a copy with each replaced by U+FFFD (one code point for one: every finding's span
still fits the original text); JSON that Wardgate writes (rewritten bodies, audit events) keeps them, escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["json_text", "scannable", "scannable_value"]

_LONE = re.compile("[\ud800-\udfff]")  # any left in a str is lone: json.loads joins a valid pair into one character
_REPLACEMENT = "\ufffd"


def scannable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    return _LONE.sub(_REPLACEMENT, text) if not text.isascii() else text


def scannable_value(value: Any) -> Any:
    """A JSON-like value with `scannable` strings and keys (what a policy engine reads: OPA's refuses the others)."""
    if isinstance(value, str):
        return scannable(value)
    if isinstance(value, Mapping):
        return {scannable(key) if isinstance(key, str) else key: scannable_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scannable_value(item) for item in value]
    return value


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)` that encodes to UTF-8: other characters as they are, all of them escaped when a
    lone surrogate needs its escape (the same value always gives the same text: the audit chain hashes it)."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return json.dumps(value, ensure_ascii=True, **options) if not text.isascii() and _LONE.search(text) else text
