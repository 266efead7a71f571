"""mitmproxy's streaming state, patched: a judged stream's chunk goes to the addon hook and its answer goes out."""

from __future__ import annotations

import collections
import threading
import types

from mitmproxy import connection, options
from mitmproxy.proxy import context, events
from mitmproxy.proxy.layers.http import HttpResponseHook, HttpStream, SendHttp
from mitmproxy.proxy.layers.http._events import (
    ErrorCode,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseProtocolError,
)
from mitmproxy.test import tflow

from wardgate.intercept import off_loop_streams
from wardgate.intercept.off_loop_streams import OffLoopStream, StreamChunk, WardgateStreamChunkHook
from wardgate.policy import Decision


class Judged:
    """A judged stream: upper-cases what it is fed; `fails` makes it raise instead."""

    def __init__(self, *, fails: bool = False) -> None:
        self.stopped: Decision | None = None
        self.threads: set[int] = set()
        self._fails = fails

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        self.threads.add(threading.get_ident())
        if self.stopped is not None:
            return []  # as the real ones: nothing more once stopped
        if self._fails:
            raise RuntimeError("a bug of ours")
        return chunk.upper() if chunk else b"<end>"

    def refuse(self, message: str) -> bytes | list[bytes]:
        if self.stopped is not None:
            return []
        self.stopped = Decision.deny("stream_unreadable", message, status=502)
        return b"<error>"


class Layer:
    """What the patched state reads of mitmproxy's HttpStream."""

    stream_id = 1
    server_state = state_errored = "errored"

    def __init__(self, stream: object, *, killed: bool = False) -> None:
        response = types.SimpleNamespace(stream=stream, data=types.SimpleNamespace(content=b""))
        self.flow = types.SimpleNamespace(response=response)
        self.context = types.SimpleNamespace(
            options=types.SimpleNamespace(store_streamed_bodies=False), client=None, server=None
        )
        self._paused_event_queue: collections.deque = collections.deque()
        self.response_body_buf = bytearray()
        self._killed = killed

    def check_killed(self, emit_error_hook: bool):
        yield "error hook"
        return self._killed

    def send_response(self, already_streamed: bool):
        yield "response hook"


def sent(command: object) -> object:
    if isinstance(command, SendHttp):
        if isinstance(command.event, RequestProtocolError):
            return "upstream reset"
        return getattr(command.event, "data", command.event)
    return command


def drive(layer: Layer, event: object, *, answer: list[bytes] | None, queued: int = 0, pieces: int = 1) -> list:
    """Run the state on `event`; the hook answers `answer` while `pieces` chunks of `queued` bytes arrive behind it."""
    steps = off_loop_streams._state_stream_response_body(layer, event)
    hook = next(steps)
    assert isinstance(hook, WardgateStreamChunkHook)
    hook.chunk.out = answer
    for _ in range(pieces if queued else 0):
        layer._paused_event_queue.append(ResponseData(1, b"x" * queued))
    return [sent(step) for step in [steps.send(None), *steps]]  # the killed check first


def passed(layer: Layer, event: object) -> list:
    """Run the state on `event` where it must not need the hook."""
    return [sent(step) for step in off_loop_streams._state_stream_response_body(layer, event)]


def test_a_chunk_goes_out_as_the_hook_judged_it_and_the_end_completes_the_response():
    stream = OffLoopStream(Judged(), Judged(), budget_s=5)
    layer = Layer(stream)
    assert drive(layer, ResponseData(1, b"data"), answer=[b"DATA", b"MORE"]) == ["error hook", b"DATA", b"MORE"]
    assert drive(layer, ResponseEndOfMessage(1), answer=[b"<end>"]) == ["error hook", b"<end>", "response hook"]


def test_a_client_gone_while_the_chunk_was_judged_gets_nothing_more_and_the_upstream_is_told():
    layer = Layer(OffLoopStream(Judged(), Judged(), budget_s=5), killed=True)
    assert drive(layer, ResponseData(1, b"data"), answer=[b"DATA"]) == ["error hook", "upstream reset"]


def test_an_empty_data_frame_is_not_the_end_of_the_body():
    judged = Judged()
    assert passed(Layer(OffLoopStream(judged, judged, budget_s=5)), ResponseData(1, b"")) == []
    assert not judged.threads  # never judged as b"" (the end)


def test_a_stopped_stream_is_answered_without_the_hook_and_ends_at_once():
    judged = Judged()
    judged.stopped = Decision.deny("event_too_large", "too large", status=502)
    layer = Layer(OffLoopStream(lambda chunk: [], judged, budget_s=5))
    assert passed(layer, ResponseData(1, b"data")) == ["response hook", "upstream reset"]
    assert passed(layer, ResponseEndOfMessage(1)) == ["response hook"]


def test_a_stream_stopped_by_its_judge_ends_the_answer_and_resets_the_upstream():
    """It used to read the upstream to its end, passing nothing, while the client waited for the end of the body
    and the upstream went on generating."""
    judged = Judged()
    layer = Layer(OffLoopStream(judged, judged, budget_s=5))
    assert drive(layer, ResponseData(1, b"data"), answer=[b"DATA"]) == ["error hook", b"DATA"]
    steps = off_loop_streams._state_stream_response_body(layer, ResponseData(1, b"key"))
    next(steps).chunk.out = [b"<error>"]  # the hook: its judge stops the stream
    judged.stopped = Decision.deny("policy_denied", "a verdict", status=403)
    assert [sent(step) for step in [steps.send(None), *steps]] == [
        "error hook",
        b"<error>",
        "response hook",
        "upstream reset",
    ]


def test_a_hook_no_judge_answered_stops_the_stream_instead_of_dropping_the_chunk():
    judged = Judged()
    layer = Layer(OffLoopStream(judged, judged, budget_s=5))
    assert drive(layer, ResponseData(1, b"data"), answer=None) == [
        "error hook",
        b"<error>",
        "response hook",
        "upstream reset",
    ]
    assert judged.stopped is not None


def test_an_upstream_that_outruns_the_judge_past_the_backlog_limit_is_stopped(monkeypatch):
    monkeypatch.setattr(off_loop_streams, "MAX_BACKLOG_BYTES", 1024)
    judged = Judged()
    layer = Layer(OffLoopStream(judged, judged, budget_s=5))
    overrun = drive(layer, ResponseData(1, b"data"), answer=[b"DATA"], queued=4096)
    assert overrun == ["error hook", b"DATA", b"<error>", "response hook", "upstream reset"]
    assert judged.stopped is not None


def test_a_flood_of_tiny_pieces_behind_the_judge_is_stopped_by_their_count(monkeypatch):
    monkeypatch.setattr(off_loop_streams, "MAX_BACKLOG_EVENTS", 100)
    judged = Judged()
    layer = Layer(OffLoopStream(judged, judged, budget_s=5))
    flooded = drive(layer, ResponseData(1, b"data"), answer=[b"DATA"], queued=1, pieces=101)
    assert flooded == ["error hook", b"DATA", b"<error>", "response hook", "upstream reset"]


async def test_the_hook_judges_on_a_worker_thread():
    judged = Judged()
    chunk = StreamChunk(OffLoopStream(judged, judged, budget_s=5), b"data")
    chunk.out = await chunk.stream.judge(chunk.data)
    assert chunk.out == [b"DATA"]
    assert threading.get_ident() not in judged.threads


async def test_a_judge_that_raises_stops_the_stream_with_its_error_event():
    judged = Judged(fails=True)
    stream = OffLoopStream(judged, judged, budget_s=5)
    assert await stream.judge(b"data") == [b"<error>"]
    assert judged.stopped is not None


def test_what_the_upstream_sent_while_a_stopping_chunk_was_judged_is_dropped_by_mitmproxys_own_layer(monkeypatch):
    """mitmproxy replays the events queued during a hook once it returns; a stopped stream used to be left in the
    state that refuses any event, and mitmproxy logged "has crashed" for each one; an upstream error among them went
    on to the client's HTTP/1 layer, which had moved to the next request, and crashed it (an outside review)."""
    monkeypatch.setattr(HttpStream, "state_stream_response_body", off_loop_streams._state_stream_response_body)
    opts = options.Options()
    opts.add_option("store_streamed_bodies", bool, False, "")
    client = connection.Client(peername=("127.0.0.1", 1), sockname=("127.0.0.1", 2), timestamp_start=0)
    layer = HttpStream(context.Context(client, opts), 1)
    layer.flow = tflow.tflow(resp=True)
    judged = Judged()
    layer.flow.response.stream = OffLoopStream(judged, judged, budget_s=5)
    layer.client_state, layer.server_state = layer.state_done, layer.state_stream_response_body

    (hook,) = layer.handle_event(ResponseData(1, b"key"))
    assert isinstance(hook, WardgateStreamChunkHook)
    upstream_reset = ResponseProtocolError(1, "the upstream reset", ErrorCode.GENERIC_SERVER_ERROR)
    for queued in (ResponseData(1, b"more"), ResponseEndOfMessage(1), upstream_reset):
        assert list(layer.handle_event(queued)) == []  # held behind the hook
    hook.chunk.out = [b"<error>"]
    judged.stopped = Decision.deny("policy_denied", "a verdict", status=403)
    *sent_out, response_hook = layer.handle_event(events.HookCompleted(hook, None))
    assert [sent(command) for command in sent_out] == [b"<error>"]
    assert isinstance(response_hook, HttpResponseHook)
    replayed = [sent(command) for command in layer.handle_event(events.HookCompleted(response_hook, None))]
    assert "upstream reset" in replayed
    # the upstream's error is not sent on to a client whose answer has ended
    assert upstream_reset not in replayed
    assert [step for step in replayed if isinstance(step, bytes)] == []  # the queued chunk went nowhere
