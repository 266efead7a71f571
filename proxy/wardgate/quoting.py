"""How Wardgate's messages quote a value a caller or an upstream chose (an encoding's name, a JSON key, a model).

A refusal's message reaches the audit trail and the logs, which never hold a secret or personal data, and the value
it would quote may be one: an outside review found AWS keys and e-mail addresses quoted by duplicate-key,
content-encoding, upgrade and token-algorithm refusals. A short word is quoted as it is (`'gzip'`, `'RS256'`,
`'gpt-4o-mini'`), and so is a small number (`'-1'`); anything else (capitals beyond a short code, spaces, `@`, a
leading digit, four digits in a row, a run of sixteen letters and digits, a long value) only by its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["quoted", "quoted_all"]

# Lower case (what encodings, charsets, protocols and model names are), or a short code in capitals (`RS256`): a name
# is capitalised (`Zebulon_Quarterfield` was quoted as a word: an outside review).
_WORD = re.compile(r"[a-z][a-z0-9._+/-]{0,15}|[A-Z][A-Z0-9]{1,7}|-?\d{1,3}(?:\.\d{1,3})?")
_NOT_A_WORD = re.compile(r"\d{4}|[A-Za-z0-9]{16}")


def quoted(value: object) -> str:
    """`value` as a message may quote it: `'gzip'`, or `a value of 24 characters`."""
    text = str(value)
    if _WORD.fullmatch(text) and not _NOT_A_WORD.search(text):
        return repr(text)
    return f"a value of {len(text)} characters"


def quoted_all(values: Iterable[object]) -> str:
    return ", ".join(quoted(value) for value in values)
