"""Bedrock's Converse: content blocks, tool specs in `toolConfig`, calls as `toolUse` blocks."""

from __future__ import annotations

import json

import pytest

from wardgate.formats import adapter_for, error_body, provider_for
from wardgate.formats.base import AmbiguousBody, MalformedBody
from wardgate.formats.bedrock import BedrockConverse
from wardgate.formats.bedrock_invoke import BedrockInvoke
from wardgate.formats.generic_json import named_model

BEDROCK = BedrockConverse()
SPEC = {"toolSpec": {"name": "shell_exec", "inputSchema": {"json": {"type": "object"}}}}


def test_routes_and_error_shape():
    assert adapter_for("POST", "/model/anthropic.claude-3-haiku-v1:0/converse") is not None
    assert adapter_for("POST", "/model/arn:aws:bedrock:us-east-1:1:inference-profile/us.x/converse-stream") is not None
    assert adapter_for("POST", "/model/amazon.titan/invoke").name == "bedrock.invoke"
    assert provider_for("bedrock-runtime.us-east-1.amazonaws.com", "/model/x/invoke") == "bedrock"
    assert error_body("bedrock", 403, "tool_denied", "no", {})["__type"] == "AccessDeniedException"


def test_a_request_s_roles_results_and_tools():
    body = {
        "system": [{"text": "be brief"}],
        "messages": [
            {"role": "user", "content": [{"text": "who am I?"}]},
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "shell_exec", "input": {"command": "id"}}}],
            },
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "uid=0"}]}}]},
        ],
        "toolConfig": {
            "tools": [SPEC, {"cachePoint": {"type": "default"}}],
            "toolChoice": {"tool": {"name": "shell_exec"}},
        },
    }
    exchange = BEDROCK.parse_request(body, "/model/m/converse-stream")
    assert [(s.role, s.source, s.text) for s in exchange.segments] == [
        ("system", "prompt", "be brief"),
        ("user", "prompt", "who am I?"),
        ("assistant", "prompt", "id"),
        ("tool", "tool_result", "uid=0"),
    ]
    assert exchange.tools == ("shell_exec",)
    assert exchange.stream
    assert BEDROCK.strip_tools(body, {"shell_exec"}) == ["shell_exec"]
    assert "toolConfig" not in body  # a cache point alone offers nothing


def test_a_call_in_an_answer_is_refused_in_place():
    answer = {
        "output": {"message": {"role": "assistant", "content": [
            {"text": "Running it."}, {"toolUse": {"toolUseId": "t9", "name": "shell_exec", "input": {"c": "id"}}}]}},
        "stopReason": "tool_use",
    }  # fmt: skip
    [call] = BEDROCK.parse_response(answer).tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == ("t9", "shell_exec", {"c": "id"})
    refused = BEDROCK.refuse_tool_calls(answer, {"t9": "the call to shell_exec: denied"})
    assert refused["output"]["message"]["content"] == [
        {"text": "Running it."}, {"text": "Wardgate refused the call to shell_exec: denied"}
    ]  # fmt: skip
    assert refused["stopReason"] == "end_turn"


def test_anthropic_tools_in_the_model_s_own_fields_are_governed():
    """An outside review's finding: Claude's computer-use tools are offered in `additionalModelRequestFields`."""
    fields = {
        "tools": [{"type": "bash_20241022", "name": "shell_exec"}, {"name": "search", "input_schema": {}}],
        "tool_choice": {"type": "tool", "name": "shell_exec"},
        "anthropic_beta": ["computer-use-2024-10-22"],
    }
    body = {"messages": [], "additionalModelRequestFields": fields}
    assert BEDROCK.parse_request(body).tools == ("shell_exec", "search")
    assert BEDROCK.strip_tools(body, {"shell_exec"}) == ["shell_exec"]
    assert fields["tools"] == [{"name": "search", "input_schema": {}}]
    assert fields["tool_choice"] == {"type": "auto"}


INVOKE = BedrockInvoke()


@pytest.mark.parametrize(
    "path",
    [
        "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke",
        "/model/us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0/invoke",  # a third review: the hyphen was missed
        "/model/arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-v1:0/invoke",
        "/model/arn:aws:bedrock:us-east-1:1:application-inference-profile/a1b2c3/invoke-with-response-stream",
    ],
)
def test_any_invoke_route_is_read_by_its_body(path):
    assert adapter_for("POST", path) is not None
    assert adapter_for("POST", path).name == "bedrock.invoke"
    tools = [{"name": "shell_exec", "input_schema": {}}, {"name": "search", "input_schema": {}}]
    messages = [{"role": "user", "content": "hi"}]
    claude = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": messages, "tools": tools}
    exchange = INVOKE.parse_request(claude, path)
    assert (exchange.endpoint, exchange.tools, exchange.stream) == (
        "messages", ("shell_exec", "search"), path.endswith("-with-response-stream")
    )  # fmt: skip
    assert INVOKE.strip_tools(claude, {"shell_exec"}) == ["shell_exec"]


def test_nova_mistral_and_other_bodies_have_their_tools_governed():
    nova = {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": [SPEC]}}  # fmt: skip
    mistral = {"messages": [{"role": "user", "content": "hi"}],
               "tools": [{"type": "function", "function": {"name": "shell_exec"}}]}  # fmt: skip
    cohere = {"message": "hi", "tools": [{"name": "shell_exec", "parameter_definitions": {}}]}
    for body in (nova, mistral, cohere):
        assert INVOKE.parse_request(body, "/model/x/invoke").tools == ("shell_exec",)
        assert INVOKE.strip_tools(body, {"shell_exec"}) == ["shell_exec"]
    answers = [
        {"type": "message", "content": [{"type": "tool_use", "id": "t", "name": "shell_exec", "input": {}}]},
        {"output": {"message": {"content": [{"toolUse": {"toolUseId": "t", "name": "shell_exec", "input": {}}}]}}},
        {"choices": [{"message": {"tool_calls": [{"id": "t", "type": "function",
                                                  "function": {"name": "shell_exec", "arguments": "{}"}}]}}]},
    ]  # fmt: skip
    for answer in answers:
        [call] = INVOKE.parse_response(answer).tool_calls
        refused = json.dumps(INVOKE.refuse_tool_calls(answer, {call.id: "denied"}))
        assert "Wardgate refused denied" in refused


def test_a_partner_model_on_vertex_is_read_by_its_body():
    """A second review's note: Mistral's rawPredict on Vertex AI sent a denied tool upstream (an unmapped route)."""
    path = "/v1/projects/p/locations/l/publishers/mistralai/models/mistral-large-2411:streamRawPredict"
    assert adapter_for("POST", path).name == "google.raw_predict"
    body = {"model": "mistral-large", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "shell_exec"}}]}  # fmt: skip
    exchange = adapter_for("POST", path).parse_request(body, path)
    assert (exchange.tools, exchange.stream, exchange.provider) == (("shell_exec",), True, "google")
    assert adapter_for("POST", path).strip_tools(body, {"shell_exec"}) == ["shell_exec"]
    assert "tools" not in body


def test_every_shape_s_tools_go_whichever_the_body_is_read_as():
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": [],
            "toolConfig": {"tools": [SPEC]}, "tools": [{"name": "shell_run", "input_schema": {}}]}  # fmt: skip
    assert set(INVOKE.parse_request(body, "/model/x/invoke").tools) == {"shell_exec", "shell_run"}
    assert set(INVOKE.strip_tools(body, {"shell_exec", "shell_run"})) == {"shell_exec", "shell_run"}
    assert "toolConfig" not in body
    assert "tools" not in body


def test_an_answer_with_two_models_shapes_is_ambiguous():
    """A fifth review's finding: `content: []` beside Nova's `output` read it as Claude's; Nova's call went out."""
    call = {"toolUse": {"toolUseId": "t", "name": "shell_exec", "input": {}}}
    with pytest.raises(AmbiguousBody):
        INVOKE.parse_response({"output": {"message": {"content": [call]}}, "content": []})
    with pytest.raises(AmbiguousBody):
        INVOKE.parse_response({"choices": [], "type": "message"})


@pytest.mark.parametrize("path", ["/async-invoke", "/model-invocation-job"])
def test_a_job_s_model_is_the_one_its_body_names(path):
    """No model in the path: the tenant's model list reads the body's `modelId`, as an ARN or not."""
    assert adapter_for("POST", path) is None
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-reel-v1:0"
    for model in ("amazon.nova-reel-v1:0", arn):
        assert named_model({"modelId": model, "modelInput": {"taskType": "TEXT_VIDEO"}}) == "amazon.nova-reel-v1:0"


@pytest.mark.parametrize(
    "body",
    [
        {"retrieveAndGenerateConfiguration": {"knowledgeBaseConfiguration": {"modelArn": "x.forbidden-v1"}}},
        {"foundationModel": "x.forbidden-v1", "instruction": "be brief"},
        {"baseModelIdentifier": "x.forbidden-v1", "trainingDataConfig": {"s3Uri": "s3://b/t.jsonl"}},
    ],
    ids=["knowledge-base", "inline-agent", "customization"],
)
def test_bedrock_s_other_model_keys_name_the_model(body):
    assert named_model(body) == "x.forbidden-v1"


def test_a_body_naming_two_models_is_malformed():
    """A second outside review's finding: `model` beside a forbidden `modelId` was judged as the allowed `model`."""
    with pytest.raises(MalformedBody):
        named_model({"model": "amazon.nova-lite-v1:0", "modelId": "x.forbidden-v1"})
    assert (
        named_model(
            {
                "modelId": "amazon.nova-lite-v1:0",
                "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
            }
        )
        == "amazon.nova-lite-v1:0"
    )
