"""One way to wrap how mitmproxy's HTTP streams handle events, for every patch that does (error tags, reset notices).

Each wrapper wraps whatever handles the events when it is installed, mitmproxy's own method or it already wrapped,
so the patches compose in any order, and installing one twice wraps once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import HttpStream

__all__ = ["HandleEvent", "wrap_stream_events"]

HandleEvent = Callable[[HttpStream, events.Event], Generator[commands.Command, Any, None]]
_WRAPPERS = "wardgate_wrappers"


def wrap_stream_events(
    wrapper: Callable[[HandleEvent, HttpStream, events.Event], Generator[commands.Command, Any, None]],
) -> None:
    """`HttpStream.handle_event` becomes `wrapper(inner, stream, event)` around what it is now, unless it already is."""
    inner: HandleEvent = HttpStream.handle_event
    installed = getattr(inner, _WRAPPERS, ())
    if wrapper in installed:
        return

    def handle_event(self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
        yield from wrapper(inner, self, event)

    setattr(handle_event, _WRAPPERS, (*installed, wrapper))
    HttpStream.handle_event = handle_event  # type: ignore[method-assign,assignment]
