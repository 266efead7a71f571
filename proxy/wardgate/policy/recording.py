"""The copy of a policy input an audit event keeps, so `wardgate policy replay` can decide it again.

The input is built to hold no text (segments are lengths and roles, findings are kinds, scores and spans), with
one exception: a tool call's parsed `arguments`, which the policy reads (an e-mail recipient, a URL) and which hold
whatever the model or agent wrote. Those are left out of the record and named in `omitted`; replay skips such
events rather than deciding them on arguments that are not there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["RecordedInput", "recorded_input"]

# Where raw text can reach the input: (section, key) pairs left out of the record.
_TEXT_FIELDS = (("tool_call", "arguments"),)


@dataclasses.dataclass(frozen=True, slots=True)
class RecordedInput:
    input: dict[str, Any]
    omitted: list[str]  # dotted paths of what was left out, e.g. "tool_call.arguments"


def recorded_input(policy_input: Mapping[str, Any]) -> RecordedInput:
    recorded = dict(policy_input)
    omitted = []
    for section, key in _TEXT_FIELDS:
        value = recorded.get(section)
        if isinstance(value, Mapping) and key in value:
            recorded[section] = {name: item for name, item in value.items() if name != key}
            omitted.append(f"{section}.{key}")
    return RecordedInput(recorded, omitted)
