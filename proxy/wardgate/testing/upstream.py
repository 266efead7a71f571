"""A fake LLM provider on 127.0.0.1 that speaks the real wire formats (JSON and SSE).

It answers by echoing the last user text (or a fixed `reply`), and records every request body it
received so tests can assert on what actually crossed the proxy.
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from wardgate.testing._server import BackgroundServer

__all__ = ["FakeUpstream"]


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
        self, *, reply: str | None = None, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
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
        app.router.add_route("*", "/{tail:.*}", self._other)

    async def _record(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.received.append(body)
        self.headers.append(dict(request.headers))
        return body

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        model, created, cid = body.get("model", "gpt-4o-mini"), int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:12]}"
        if body.get("stream"):
            return await self._chat_stream(request, text, model, created, cid)
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
            }
        )

    async def _chat_stream(
        self, request: web.Request, text: str, model: str, created: int, cid: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        words = text.split(" ")
        for index, word in enumerate(words):
            delta = {"content": word if index == 0 else " " + word}
            if index == 0:
                delta["role"] = "assistant"
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
        await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response

    async def _responses(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        return web.json_response(
            {
                "id": f"resp_{uuid.uuid4().hex[:12]}",
                "object": "response",
                "created_at": int(time.time()),
                "status": "completed",
                "model": body.get("model", "gpt-4o-mini"),
                "output": [
                    {
                        "type": "message",
                        "id": f"msg_{uuid.uuid4().hex[:12]}",
                        "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}],
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        )

    async def _messages(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        text = self.reply if self.reply is not None else _last_user_text(body)
        return web.json_response(
            {
                "id": f"msg_{uuid.uuid4().hex[:12]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-3-5-haiku-latest"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": len(text.split())},
            }
        )

    async def _other(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.received.append(json.loads(raw) if raw and request.content_type.endswith("json") else {"_raw": len(raw)})
        self.headers.append(dict(request.headers))
        return web.json_response({"object": "list", "path": request.path, "data": []})
