"""What an SSE event carries besides its data (its name, its id, comments, unknown fields): judged like any text.

Clients ignore comments and unknown fields, but they still receive them, and an event's name and id are handed to
the application: none of them may carry what the data could not. A text the judge changes (masks, or gets
placeholders back in) rebuilds the event with its name and id as judged and without its comments and unknown
fields, which carry nothing a client needs; a text the judge denies stops the event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from wardgate.formats.sse import SSE, Framing, SseEvent
from wardgate.policy import Decision

__all__ = ["EventFields", "FieldDenied", "FieldJudge"]

# A text and what it may go out as, or the deny.
type FieldJudge = Callable[[str], tuple[Decision, str]]
_MIN_CHARS = 8  # shorter texts (`message`, `ping`, a counter id) cannot hold a key or a sentence
_REMEMBERED = 256  # clean texts remembered per stream (an event name repeats on every event)


class FieldDenied(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.code)
        self.decision = decision


class EventFields:
    def __init__(self, judge: FieldJudge, framing: Framing = SSE) -> None:
        self._judge, self._framing = judge, framing
        self._clean: set[str] = set()

    def judged(self, event: SseEvent) -> SseEvent:
        """The event as it may go out (itself when every text is clean); raises FieldDenied."""
        name, event_id = self._text(event.event), self._text(event.id)
        changed = name != event.event or event_id != event.id
        others = []
        for other in event.others:
            judged = self._text(other)
            changed = changed or judged != other
            others.append(judged or "")
        if not changed:
            return event
        raw = self._framing.encode(name, event.data, event_id, tuple(others))
        # What a framing keeps of them (AWS's headers; SSE keeps none) stays for a later rewrite of the data.
        return dataclasses.replace(event, raw=raw, event=name, id=event_id, others=tuple(others))

    def _text(self, text: str | None) -> str | None:
        if text is None or len(text) < _MIN_CHARS or text in self._clean:
            return text
        decision, judged = self._judge(text)
        if not decision.allow:
            raise FieldDenied(decision)
        if judged == text:
            if len(self._clean) >= _REMEMBERED:
                self._clean.clear()
            self._clean.add(text)
        return judged
