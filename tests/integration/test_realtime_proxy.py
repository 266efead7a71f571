"""The OpenAI Realtime API through the proxy: a real WebSocket upstream, judged frame by frame in both directions."""

from __future__ import annotations

import asyncio
import base64
import json
import struct

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import AUTH, AWS_KEY
from tests.integration.helpers import policy_copy, wait_for_events
from wardgate.testing._server import BackgroundServer

SPINE = {"scanners": {"injection": {"enabled": False}}}
BETWEEN = [
    {"type": "response.output_audio.delta", "event_id": "a1", "item_id": "i1", "content_index": 0, "delta": "AAAA"},
    {"type": "rate_limits.updated", "event_id": "r1", "rate_limits": []},
    {"type": "response.output_text.delta", "event_id": "t2", "item_id": "i2", "content_index": 0, "delta": "hello"},
]


class RealtimeUpstream(BackgroundServer):
    """Answers `conversation.item.create` with the text echoed as `response.output_text.delta` events; the text
    `leak` is answered with a key split over two deltas. Records every client event it receives."""

    name = "realtime-upstream"

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._socket)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "session.created", "event_id": "e0", "session": {"id": "s1"}})
        async for message in socket:
            event = json.loads(message.data)
            self.received.append(event)
            if event.get("type") != "conversation.item.create":
                continue
            text = event["item"]["content"][0]["text"]
            if text.startswith("call "):
                for call_event in _function_call_events(text.removeprefix("call ")):
                    await socket.send_json(call_event)
                continue
            pieces = ["the key is ", AWS_KEY[:10], AWS_KEY[10:], " ok"] if text == "leak" else [f"echo: {text}"]
            if text == "leak between":  # other events between the key's parts, as an audio answer interleaves them
                pieces = ["the key is ", AWS_KEY[:10], *BETWEEN, AWS_KEY[10:], " ok"]
            for piece in pieces:
                await socket.send_json(piece if isinstance(piece, dict) else
                                       {"type": "response.output_text.delta", "event_id": "e", "item_id": "i1",
                                        "content_index": 0, "delta": piece})  # fmt: skip
            await socket.send_json({"type": "response.done", "event_id": "e9", "response": {"id": "r1"}})
        return socket


def _function_call_events(name: str) -> list[dict]:
    """A function call as the Realtime API streams it: the item added, its arguments streamed and done (naming no
    function), the item done, and the response's output."""
    item = {"id": "fc1", "type": "function_call", "call_id": "c1", "name": name, "arguments": ""}
    arguments = '{"command": "ls -la"}'
    done = {**item, "arguments": arguments, "status": "completed"}
    return [
        {"type": "response.output_item.added", "event_id": "e1", "output_index": 0, "item": item},
        {"type": "response.function_call_arguments.delta", "event_id": "e2", "item_id": "fc1", "output_index": 0,
         "call_id": "c1", "delta": arguments},
        {"type": "response.function_call_arguments.done", "event_id": "e3", "item_id": "fc1", "output_index": 0,
         "call_id": "c1", "arguments": arguments},
        {"type": "response.output_item.done", "event_id": "e4", "output_index": 0, "item": done},
        {"type": "response.done", "event_id": "e5", "response": {"id": "r1", "output": [done]}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def realtime():
    with RealtimeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def proxy(start_proxy, realtime):
    return start_proxy({"upstream": realtime.url, **SPINE})


def item(text: str) -> dict:
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}  # fmt: skip


async def converse(
    proxy, *events: dict | float, headers=AUTH, until: str = "response.done", quiet: float = 5
) -> list[dict]:
    """Send the events (a number: a pause of that many seconds), collect what the client receives until `until` or
    an error event (or `quiet` seconds of silence)."""
    received: list[dict] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime", headers=headers) as ws,
    ):
        for event in events:
            if isinstance(event, dict):
                await ws.send_json(event)
            else:
                await asyncio.sleep(event)
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), quiet)
            except TimeoutError:
                break
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            received.append(json.loads(message.data))
            if received[-1]["type"] in (until, "error"):
                break
    return received


async def test_a_clean_conversation_passes_both_ways(proxy, realtime):
    received = await converse(proxy, item("what is 2+2?"))
    assert [event["type"] for event in received] == ["session.created", "response.output_text.delta", "response.done"]
    assert received[1]["delta"] == "echo: what is 2+2?"
    assert realtime.received[-1] == item("what is 2+2?")


async def test_a_client_frame_with_a_secret_never_reaches_the_upstream(proxy, realtime):
    before = len(realtime.received)
    received = await converse(proxy, item(f"store {AWS_KEY}"), item("and this one?"))
    assert received[-1]["type"] == "error"
    assert received[-1]["error"]["code"] == "secret_detected"
    assert realtime.received[before:] == []  # neither the frame nor anything after it
    events = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "secret_detected")
    assert AWS_KEY not in proxy.audit_file.read_text()
    assert events


async def test_a_secret_the_model_splits_over_deltas_never_reaches_the_client(proxy):
    received = await converse(proxy, item("leak"))
    text = "".join(event.get("delta", "") for event in received)
    assert AWS_KEY[:10] not in text  # its first half was sent before the second was judged
    assert text == "the key is "
    assert received[-1]["type"] == "error"


async def test_a_key_the_model_splits_around_other_events_never_reaches_the_client(secrets_only):
    """Found by an outside review: a frame adding no text to the held tail (an audio delta, a rate-limit update, a
    delta of another item) released the key's first part."""
    received = await converse(secrets_only, item("leak between"), quiet=3)
    assert AWS_KEY[:10] not in json.dumps(received)
    assert received[-1]["type"] == "error"


def _wav(pcm: bytes) -> bytes:
    header = struct.pack("<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16)
    sizes = struct.pack("<I", 36 + len(pcm)), struct.pack("<I", len(pcm))
    return b"RIFF" + sizes[0] + b"WAVEfmt " + header + b"data" + sizes[1] + pcm


_WAV_ITEM = {"type": "input_audio", "audio": base64.b64encode(_wav(b"\0\0" * 2400)).decode()}


@pytest.mark.parametrize(
    "event",
    [
        {"type": "input_audio_buffer.append", "audio": "AAAA" * 100},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [_WAV_ITEM]}},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": base64.b64encode(b"\x01\x02" * 2400).decode()}],
            },
        },  # raw PCM16
    ],
    ids=["buffer-append", "item-with-a-wav", "item-with-raw-pcm"],
)
async def test_client_audio_is_refused_because_it_cannot_be_inspected(proxy, realtime, event):
    """An outside review: audio inside an item, behind a WAV header, was a file of type audio/wav, which the media
    policy lets through, so spoken instructions reached the model unread."""
    before = len(realtime.received)
    received = await converse(proxy, event)
    assert received[-1]["error"]["code"] == "audio_refused"
    assert realtime.received[before:] == []


async def test_an_unauthenticated_upgrade_is_refused(proxy):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await converse(proxy, item("hi"), headers={})
    assert refused.value.status == 401


@pytest.fixture(scope="module")
def secrets_only(start_proxy, realtime):
    """No PII masking: a key's first part the tagger takes for a name is masked, which hides what is tested here."""
    scanners = {"injection": {"enabled": False}, "pii": {"enabled": False}}
    return start_proxy({"upstream": realtime.url, "scanners": scanners})


@pytest.mark.parametrize("cut", [4, 10])
@pytest.mark.parametrize("masking", [False, True], ids=["secrets only", "PII masking too"])
async def test_a_key_split_over_two_client_frames_never_reaches_the_upstream(
    proxy, secrets_only, realtime, cut, masking
):
    """Found by an outside red team: the first half had gone upstream by the time the second stopped the session.
    With PII masking, the first half (taken for a name) is masked: the tail still holds it as sent."""
    before = len(realtime.received)
    through = proxy if masking else secrets_only
    received = await converse(through, item(f"remember {AWS_KEY[:cut]}"), item(f"{AWS_KEY[cut:]} too"))
    assert received[-1]["type"] == "error"
    assert realtime.received[before:] == []  # neither half


LONG = "Please summarise the following notes about the project plan. " * 60  # ~1 s to judge with PII on, here


@pytest.mark.parametrize(
    "events",
    [
        # Found by an outside review of the hold: a frame without text in between released the first part.
        [item("remember AKIAZ3MSJV4W"), {"type": "response.cancel"}, item("WNKWW5FG too")],
        # The hold ran per direction, not per frame: the first part went with an earlier frame's hold, 0.1 s in.
        [item("tell me about NASA"), 0.95, item("remember AKIAZ3MSJV4W"), 0.15, item("WNKWW5FG too")],
        # A trailing word longer than hold_chars was not held.
        [item("remember " + "/" * 600 + "AKIAZ3MSJV4W"), item("WNKWW5FG too")],
    ],
    ids=["a frame without text between", "a hold already running", "a long trailing word"],
)
async def test_a_held_first_part_goes_nowhere_however_the_frames_come(secrets_only, realtime, events):
    before = len(realtime.received)
    received = await converse(secrets_only, *events, until="error", quiet=3)
    assert received[-1]["error"]["code"] == "secret_detected"
    assert "AKIAZ3MSJV" not in json.dumps(realtime.received[before:])


async def test_a_hold_that_runs_out_mid_judgement_keeps_the_order_and_sends_nothing_after_a_stop(proxy, realtime):
    """Found by an outside review: the hold's timer fired while the next frame was judged; the held frame, queued by
    mitmproxy behind that hook, went out after it, or after it had stopped the session."""
    before = len(realtime.received)
    await converse(proxy, item("tell me about NASA"), 0.85, item(LONG), until="never", quiet=3)
    assert [event["item"]["content"][0]["text"] for event in realtime.received[before:]] == ["tell me about NASA", LONG]
    before = len(realtime.received)
    received = await converse(proxy, item("remember AKIAZ3MSJV4W"), 0.9, item("WNKWW5FG " + LONG), quiet=3)
    assert received[-1]["error"]["code"] == "secret_detected"
    assert realtime.received[before:] == []


async def test_a_value_split_over_two_fields_of_one_frame_stops_the_session(proxy, realtime):
    """Found by an outside review: a mask elsewhere in the frame let a card number split over two content parts
    (found whole only in the joined text) through unmasked."""
    texts = ("card 4111-1111-", "1111-1111 ok", "mail zq81xk@mailbox.org")
    parts = [{"type": "input_text", "text": text} for text in texts]
    event = {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": parts}}
    before = len(realtime.received)
    received = await converse(proxy, event, quiet=3)
    assert received[-1]["error"]["code"] == "split_value"
    assert realtime.received[before:] == []


async def test_frames_held_because_they_could_grow_into_a_key_go_out_in_order(proxy, realtime):
    """`NASA` could be the start of a key: the frame waits for the next one (or a second), then goes out, before it;
    the model's delta ending in it waits for `response.done` the same way."""
    before = len(realtime.received)
    received = await converse(proxy, item("tell me about NASA"), item("what is 2+2?"), until="never")
    assert realtime.received[before:] == [item("tell me about NASA"), item("what is 2+2?")]
    deltas = [event["delta"] for event in received if event["type"] == "response.output_text.delta"]
    assert deltas == ["echo: tell me about NASA", "echo: what is 2+2?"]
    alone = await converse(proxy, item("and NASA"))  # nothing follows: the hold runs out
    assert realtime.received[-1] == item("and NASA")
    assert [event["type"] for event in alone][-2:] == ["response.output_text.delta", "response.done"]


async def test_a_frame_whose_pii_is_masked_goes_on_and_so_does_the_session(proxy, realtime):
    """Each frame is also judged joined to the tail of the ones before, and a mask found there used to stop the
    session as a value split over frames, though the value lay whole in the frame (any e-mail address did it)."""
    before = len(realtime.received)
    received = await converse(proxy, item("write to bob.smith@example.com please"), item("thanks"), until="never")
    assert "error" not in [event["type"] for event in received]
    sent = realtime.received[before:]
    assert [event["item"]["content"][0]["text"] for event in sent][1] == "thanks"
    assert "bob.smith@example.com" not in json.dumps(sent)
    assert "please" in sent[0]["item"]["content"][0]["text"]


@pytest.mark.parametrize("name", ["shell_exec", "search"])
async def test_a_function_call_the_model_makes_faces_the_tool_policy(start_proxy, realtime, tmp_path, name):
    """Agent runtimes run the calls a Realtime session hands them: they reached the client unjudged, a tool the policy
    denies over HTTP included (an outside review)."""
    policies = policy_copy(tmp_path, tools={"deny": ["shell_*"]})
    proxy = start_proxy({"upstream": realtime.url, **SPINE}, policies=policies)
    received = await converse(proxy, item(f"call {name}"))
    types = [event["type"] for event in received]
    if name == "search":
        assert types[-1] == "response.done"
        assert received[-1]["response"]["output"][0]["name"] == "search"
        return
    assert types[-1] == "error"
    assert received[-1]["error"]["code"] == "tool_denied"
    assert "response.function_call_arguments.done" not in types  # stopped at the first event that hands it over
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call")
    assert [(e["tool"]["name"], e["result"]["code"]) for e in events] == [("shell_exec", "tool_denied")]
