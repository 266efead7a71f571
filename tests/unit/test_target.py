"""The canonical request target: the spelling upstream routers read, judged and forwarded."""

from __future__ import annotations

import pytest

from wardgate.formats import adapter_for
from wardgate.formats.streams import stream_format_for
from wardgate.formats.target import canonical_target, route_path


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


@pytest.mark.parametrize(
    "path",
    [
        *["/v1/Chat/Completions", "/v1/chat/completions;x=1", "/v1\\chat\\completions", "/v1/chat/completions/?a=1"],
        *["/v1/chat//completions", "//v1//chat///completions//"],  # merged by nginx (an outside review's finding)
    ],
)
def test_a_format_is_chosen_as_generously_as_any_router_reads_the_path(path):
    assert route_path(path) == "/v1/chat/completions"
    adapter = adapter_for("POST", path)
    assert adapter is not None
    assert adapter.provider == "openai"
    assert stream_format_for(path) is not None


def test_gemini_streams_are_found_whatever_the_model_name_s_case():
    assert stream_format_for("/v1beta/models/Gemini-1.5-Pro:streamGenerateContent?alt=sse") is not None
