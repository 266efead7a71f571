"""A fake LLM provider on 127.0.0.1 that speaks the real wire formats (JSON and SSE).

It answers by echoing the last user text (or a fixed `reply`), and records every request body it
received so tests can assert on what actually crossed the proxy. Streams (`"stream": true`, or Gemini's
`:streamGenerateContent`) carry the answer in the provider's own SSE events, one delta per word unless `deltas`
fixes them; `stream_delay` paces the events and `split_events` cuts each event across two writes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from wardgate.testing._server import BackgroundServer

__all__ = ["FakeUpstream"]


_ID_LETTERS = string.ascii_letters + string.digits


def _id(prefix: str) -> str:
    """An id shaped like the providers' (`chatcmpl-` + 29 letters and digits). Short hex ids put seven-digit runs
    beside two letters in about 1 stream in 300, which the proxy rightly judges as a DEA number or a phone number."""
    return prefix + "".join(secrets.choice(_ID_LETTERS) for _ in range(29))


def _last_user_text(body: dict[str, Any]) -> str:
    for item in reversed(body.get("messages") or body.get("input") or []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return body["input"] if isinstance(body.get("input"), str) else ""


class FakeUpstream(BackgroundServer):
    """Use as a context manager, or `start()` / `stop()`."""

    name = "fake-upstream"

    def __init__(
        self,
        *,
        reply: str | None = None,
        deltas: list[str] | None = None,
        stream_delay: float = 0.0,
        split_events: bool = False,
        tool_call: tuple[str, list[str]] | None = None,
        tls: tuple[Path, Path] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.reply = reply
        self.deltas, self.stream_delay, self.split_events = deltas, stream_delay, split_events
        self.streamed: list[bytes] = []  # the exact bytes of each stream sent
        self.tool_call = tool_call  # (name, argument pieces): streamed chat answers call this tool instead
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []  # each request's target as it arrived (undecoded)
        self._ssl: ssl.SSLContext | None = None
        if tls is not None:
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(*tls)

    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1beta/models/{model}:streamGenerateContent", self._gemini_stream)
        app.router.add_post("/v1beta/models/{model}:generateContent", self._gemini)
        app.router.add_post("/api/chat", self._ollama_chat)
        app.router.add_post("/model/{model}/converse", self._converse)
        app.router.add_post("/v2/chat", self._cohere_chat)
        app.router.add_route("*", "/{tail:.*}", self._other)

    async def _record(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.received.append(body)
        self.headers.append(dict(request.headers))
        self.paths.append(request.raw_path)
        return body

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        model, created, cid = body.get("model", "gpt-4o-mini"), int(time.time()), _id("chatcmpl-")
        if body.get("stream"):
            return await self._chat_stream(request, text, model, created, cid)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if self.tool_call is not None:
            name, pieces = self.tool_call
            function = {"name": name, "arguments": "".join(pieces)}
            message = {"role": "assistant", "content": None,
                       "tool_calls": [{"id": "call_1", "type": "function", "function": function}]}  # fmt: skip
            finish = "tool_calls"
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
            }
        )

    def _pieces(self, text: str) -> list[str]:
        if self.deltas is not None:
            return list(self.deltas)
        words = text.split(" ")
        return [word if index == 0 else " " + word for index, word in enumerate(words)]

    async def _sse(
        self, request: web.Request, events: Iterator[tuple[str | None, dict[str, Any] | str]]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        sent = bytearray()
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            raw = (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"
            encoded = raw.encode()
            halves = [encoded[: len(encoded) // 2], encoded[len(encoded) // 2 :]] if self.split_events else [encoded]
            sent += encoded
            for half in halves:
                await response.write(half)
                if self.stream_delay:
                    await asyncio.sleep(self.stream_delay)
        await response.write_eof()
        self.streamed.append(bytes(sent))
        return response

    async def _chat_stream(
        self, request: web.Request, text: str, model: str, created: int, cid: str
    ) -> web.StreamResponse:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip

        def events() -> Iterator[tuple[str | None, dict[str, Any] | str]]:
            if self.tool_call is not None:
                name, pieces = self.tool_call
                call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}
                yield None, chunk({"role": "assistant", "content": None, "tool_calls": [call]})
                for piece in pieces:
                    yield None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                yield None, chunk({}, "tool_calls")
            else:
                for index, piece in enumerate(self._pieces(text)):
                    yield None, chunk({"role": "assistant", "content": piece} if index == 0 else {"content": piece})
                yield None, chunk({}, "stop")
            yield None, "[DONE]"

        return await self._sse(request, events())

    async def _messages_stream(self, request: web.Request, text: str, model: str) -> web.StreamResponse:
        mid = _id("msg_")

        def events() -> Iterator[tuple[str | None, dict[str, Any] | str]]:
            usage = {"input_tokens": 10, "output_tokens": 1}
            message: dict[str, Any] = {"id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
                                       "stop_reason": None, "stop_sequence": None, "usage": usage}  # fmt: skip
            yield "message_start", {"type": "message_start", "message": message}
            yield "content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}}  # fmt: skip
            yield "ping", {"type": "ping"}
            for piece in self._pieces(text):
                yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": piece}}  # fmt: skip
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            stop = {"stop_reason": "end_turn", "stop_sequence": None}
            yield "message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 1}}
            yield "message_stop", {"type": "message_stop"}

        return await self._sse(request, events())

    async def _responses_stream(self, request: web.Request, text: str, model: str) -> web.StreamResponse:
        rid, mid = _id("resp_"), _id("msg_")

        def response(status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
            return {"id": rid, "object": "response", "created_at": int(time.time()), "status": status, "model": model,
                    "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}  # fmt: skip

        def message(status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
            return {"type": "message", "id": mid, "status": status, "role": "assistant", "content": content}

        def events() -> Iterator[tuple[str | None, dict[str, Any] | str]]:
            seq = iter(range(1000))
            yield "response.created", {"type": "response.created", "sequence_number": next(seq),
                                       "response": response("in_progress", [])}  # fmt: skip
            yield "response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                                 "output_index": 0, "item": message("in_progress", [])}  # fmt: skip
            part = {"type": "output_text", "text": "", "annotations": []}
            yield "response.content_part.added", {"type": "response.content_part.added", "sequence_number": next(seq),
                                                  "item_id": mid, "output_index": 0, "content_index": 0,
                                                  "part": part}  # fmt: skip
            for piece in self._pieces(text):
                yield "response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": next(seq),
                                                     "item_id": mid, "output_index": 0, "content_index": 0,
                                                     "delta": piece, "logprobs": []}  # fmt: skip
            full = "".join(self._pieces(text))
            yield "response.output_text.done", {"type": "response.output_text.done", "sequence_number": next(seq),
                                                "item_id": mid, "output_index": 0, "content_index": 0, "text": full,
                                                "logprobs": []}  # fmt: skip
            done_part = {"type": "output_text", "text": full, "annotations": []}
            yield "response.content_part.done", {"type": "response.content_part.done", "sequence_number": next(seq),
                                                 "item_id": mid, "output_index": 0, "content_index": 0,
                                                 "part": done_part}  # fmt: skip
            item = message("completed", [done_part])
            yield "response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                                "output_index": 0, "item": item}  # fmt: skip
            yield "response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                         "response": response("completed", [item])}  # fmt: skip

        return await self._sse(request, events())

    def _gemini_text(self, body: dict[str, Any]) -> str:
        contents = body.get("contents") or []
        last = contents[-1] if contents else {}
        asked = " ".join(part.get("text", "") for part in last.get("parts", []) if isinstance(part, dict))
        return self.reply if self.reply is not None else asked

    def _gemini_call(self) -> dict[str, Any]:
        """The tool call a Gemini answer makes: a whole `functionCall` part (its arguments an object)."""
        assert self.tool_call is not None
        name, pieces = self.tool_call
        return {"functionCall": {"name": name, "args": json.loads("".join(pieces) or "{}")}}

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        parts = [self._gemini_call()] if self.tool_call is not None else [{"text": self._gemini_text(body)}]
        candidate = {"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
        return web.json_response(
            {"candidates": [candidate], "usageMetadata": usage, "modelVersion": request.match_info["model"]}
        )

    async def _gemini_stream(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = self._gemini_text(body)

        def events() -> Iterator[tuple[str | None, dict[str, Any] | str]]:
            if self.tool_call is not None:
                call = {"content": {"parts": [self._gemini_call()], "role": "model"}, "index": 0}
                yield None, {"candidates": [call], "modelVersion": request.match_info["model"]}
                yield None, {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"},
                                             "finishReason": "STOP", "index": 0}]}  # fmt: skip
                return
            pieces = self._pieces(text)
            for index, piece in enumerate(pieces):
                candidate: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
                if index == len(pieces) - 1:
                    candidate["finishReason"] = "STOP"
                yield None, {"candidates": [candidate], "modelVersion": request.match_info["model"]}

        return await self._sse(request, events())

    async def _ollama_chat(self, request: web.Request) -> web.StreamResponse:
        """Ollama's native chat: JSON Lines unless `"stream": false`; a call's arguments are an object."""
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        model = body.get("model", "llama3.2")
        lines: list[dict[str, Any]] = []
        if self.tool_call is not None:
            name, pieces = self.tool_call
            call = {"function": {"name": name, "arguments": json.loads("".join(pieces) or "{}")}}
            lines.append({"model": model, "message": {"role": "assistant", "content": "", "tool_calls": [call]},
                          "done": False})  # fmt: skip
        else:
            lines += [{"model": model, "message": {"role": "assistant", "content": piece}, "done": False}
                      for piece in self._pieces(text)]  # fmt: skip
        end = {"model": model, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
               "prompt_eval_count": 10, "eval_count": len(lines)}  # fmt: skip
        if body.get("stream") is False:
            whole = {**end, "message": {**lines[0]["message"], "content": "".join(
                line["message"]["content"] for line in lines)}}  # fmt: skip
            return web.json_response(whole)
        payload = b"".join(json.dumps(line).encode() + b"\n" for line in [*lines, end])
        return web.Response(body=payload, content_type="application/x-ndjson")

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        """Bedrock's Converse: content blocks; a call is a `toolUse` block whose input is an object."""
        body = await self._record(request)
        last = (body.get("messages") or [{}])[-1]
        asked = " ".join(block.get("text", "") for block in last.get("content") or [] if isinstance(block, dict))
        content: list[dict[str, Any]] = [{"text": self.reply if self.reply is not None else asked}]
        stop = "end_turn"
        if self.tool_call is not None:
            name, pieces = self.tool_call
            content = [
                {"toolUse": {"toolUseId": "tooluse_1", "name": name, "input": json.loads("".join(pieces) or "{}")}}
            ]
            stop = "tool_use"
        usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
        return web.json_response({"output": {"message": {"role": "assistant", "content": content}},
                                  "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 1}})  # fmt: skip

    async def _cohere_chat(self, request: web.Request) -> web.StreamResponse:
        """Cohere's v2 chat: content parts; a call is OpenAI-shaped, planned first (`tool_plan`); streams name each
        event by its `type`, and blocks and calls by `index`."""
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        usage = {
            "billed_units": {"input_tokens": 10, "output_tokens": 5},
            "tokens": {"input_tokens": 10, "output_tokens": 5},
        }
        if body.get("stream"):
            return await self._sse(request, self._cohere_events(text, usage))
        message: dict[str, Any] = {"role": "assistant", "content": [{"type": "text", "text": text}]}
        finish = "COMPLETE"
        if self.tool_call is not None:
            name, pieces = self.tool_call
            call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "".join(pieces)}}
            message = {"role": "assistant", "tool_plan": f"I will call {name}.", "tool_calls": [call]}
            finish = "TOOL_CALL"
        return web.json_response({"id": _id(""), "message": message, "finish_reason": finish, "usage": usage})

    def _cohere_events(self, text: str, usage: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any] | str]]:
        def event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
            return kind, {"type": kind, **fields}

        yield event("message-start", id=_id(""), delta={"message": {"role": "assistant"}})
        if self.tool_call is not None:
            name, pieces = self.tool_call
            yield event("tool-plan-delta", delta={"message": {"tool_plan": f"I will call {name}."}})
            call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}
            yield event("tool-call-start", index=0, delta={"message": {"tool_calls": call}})
            for piece in pieces:
                arguments = {"function": {"arguments": piece}}
                yield event("tool-call-delta", index=0, delta={"message": {"tool_calls": arguments}})
            yield event("tool-call-end", index=0)
        else:
            yield event("content-start", index=0, delta={"message": {"content": {"type": "text", "text": ""}}})
            for piece in self._pieces(text):
                yield event("content-delta", index=0, delta={"message": {"content": {"text": piece}}})
            yield event("content-end", index=0)
        finish = "COMPLETE" if self.tool_call is None else "TOOL_CALL"
        yield event("message-end", delta={"finish_reason": finish, "usage": usage})

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        if body.get("stream"):
            return await self._responses_stream(request, text, body.get("model", "gpt-4o-mini"))
        output: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": _id("msg_"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ]
        if self.tool_call is not None:
            name, pieces = self.tool_call
            output = [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": name,
                       "arguments": "".join(pieces), "status": "completed"}]  # fmt: skip
        return web.json_response(
            {
                "id": _id("resp_"),
                "object": "response",
                "created_at": int(time.time()),
                "status": "completed",
                "model": body.get("model", "gpt-4o-mini"),
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        )

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        if body.get("stream"):
            return await self._messages_stream(request, text, body.get("model", "claude-3-5-haiku-latest"))
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        stop = "end_turn"
        if self.tool_call is not None:
            name, pieces = self.tool_call
            content = [{"type": "tool_use", "id": "toolu_1", "name": name, "input": json.loads("".join(pieces))}]
            stop = "tool_use"
        return web.json_response(
            {
                "id": _id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-3-5-haiku-latest"),
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": len(text.split())},
            }
        )

    async def _other(self, request: web.Request) -> web.Response:
        raw = await request.read()
        # A body that is no JSON (an upload) is kept as the bytes it is.
        self.received.append(json.loads(raw) if raw and request.content_type.endswith("json") else {"_raw": raw})
        self.headers.append(dict(request.headers))
        self.paths.append(request.raw_path)
        return web.json_response({"object": "list", "path": request.path, "data": []})
