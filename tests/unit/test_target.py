"""The canonical request target: the spelling upstream routers read, judged and forwarded."""

from __future__ import annotations

import pytest

from wardgate.formats.target import canonical_target


@pytest.mark.parametrize(
    ("target", "canonical"),
    [
        ("/v1/chat/%63ompletions", "/v1/chat/completions"),
        ("/v1/chat/completion%73#frag", "/v1/chat/completions"),
        ("/v1/chat%2Fcompletions", "/v1/chat/completions"),
        ("/v1/x/../chat/completions", "/v1/chat/completions"),
        ("/v1/./chat/%2e%2e/chat/completions", "/v1/chat/completions"),
        ("/../../v1/models", "/v1/models"),
        ("/v1/models/..", "/v1/"),
        ("/v1/chat/completions?q=%41#x", "/v1/chat/completions?q=%41"),  # the query is the query's business
        ("/files/a%20b%3fc%25", "/files/a%20b%3Fc%25"),  # escapes that would change the structure stay escapes
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("*", "*"),
    ],
)
def test_a_target_in_its_canonical_spelling(target, canonical):
    assert canonical_target(target) == canonical
    assert canonical_target(canonical) == canonical  # idempotent: a canonical target is forwarded unchanged
