"""The one core: judge a phase of a request (scan → decide → enforce plan → audit).

Every path out of `judge` is a `Verdict` that has been audited: a scanner or engine failure is
turned into the configured fail-closed (or fail-open) decision here, never raised to the proxy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from wardgate.audit import AuditLog, canonical_json
from wardgate.audit.redaction import FoundValues, recorded_host, recorded_json_path, scrubbed
from wardgate.config import FailClosedSettings, Phase
from wardgate.errors import PolicyError, ScannerError
from wardgate.formats.generic_json import KEY_MARK
from wardgate.models import Exchange, Finding, JsonPath, Segment, ToolCall
from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.masking import Masker, annotated
from wardgate.pipeline.scan_cost import ScanCost
from wardgate.pipeline.vault import Vault
from wardgate.policy import Decision, PolicyEngine, Reason
from wardgate.policy.engine import DECISION_PATH
from wardgate.policy.recording import recorded_input
from wardgate.scanners import deadline
from wardgate.scanners.base import Scanner, SyncScanner
from wardgate.surrogates import scannable, scannable_value
from wardgate.telemetry.tracing import inner_span

__all__ = ["Guard", "Verdict"]

logger = logging.getLogger(__name__)
# What a shadowed decision applies to traffic: nothing.
_PASS = Decision(allow=True, status=200)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    findings: Sequence[Finding]
    rewrites: Mapping[JsonPath, str]


def _tool_call_input(ctx: RequestContext, call: ToolCall, source: str) -> dict[str, Any]:
    """What a tool_call decision adds to the policy input: the call, and the findings of the turn it belongs to."""
    return {"tool_call": call.to_input(source), "turn": {"findings": ctx.turn_findings}}


def _tool_summary(policy_input: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A tool call's name, id and source for the audit: never its arguments."""
    call = (policy_input or {}).get("tool_call")
    return {key: call.get(key) for key in ("name", "id", "source")} if isinstance(call, Mapping) else None


def _recorded_tool(call: Mapping[str, Any] | None, found: FoundValues) -> dict[str, Any] | None:
    """A tool call's name, id and source as recorded, each read as an identifier is (`FoundValues.identifier`)."""
    return None if call is None else {key: found.identifier(value) for key, value in call.items()}


def _recorded_input(recorded: dict[str, Any], found: FoundValues) -> dict[str, Any]:
    """The recorded policy input: found values redacted, and its identifiers (model, tool names, a call's name and
    id) read as identifiers are (`FoundValues.identifier`)."""
    copy = found.redacted(dict(recorded))
    if isinstance(request := copy.get("request"), Mapping):
        copy["request"] = {
            key: [found.identifier(tool) for tool in value] if key == "tools" and isinstance(value, list)
            else found.identifier(value) if key == "model" else value
            for key, value in request.items()
        }  # fmt: skip
    if isinstance(call := copy.get("tool_call"), Mapping):
        copy["tool_call"] = {key: found.identifier(value) if key in ("name", "id") else value
                             for key, value in call.items()}  # fmt: skip
    return copy


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _scannable(segments: Sequence[Segment]) -> list[Segment]:
    """What the scanners read: lone surrogates (which no UTF-8 encoder takes) as U+FFFD, spans unchanged."""
    return [dataclasses.replace(s, text=text) if (text := scannable(s.text)) is not s.text else s for s in segments]


class Guard:
    def __init__(
        self,
        scanners: Sequence[Scanner],
        engine: PolicyEngine,
        audit: AuditLog,
        *,
        masker: Masker,
        fail_closed: FailClosedSettings,
        scan_timeout: float,
        record_input: bool = False,
        stream_scanners: Sequence[SyncScanner] = (),
        tool_scanners: Sequence[SyncScanner] = (),
        shadow: bool = False,
    ) -> None:
        """`stream_scanners` judge released stream text; `tool_scanners` also judge streamed tool-call arguments;
        `shadow`: no policy decision is applied (enforcement: shadow)."""
        self._scanners = scanners
        self._stream_scanners, self._tool_scanners = stream_scanners, tool_scanners
        self._engine = engine
        self._audit = audit
        self._masker = masker
        self._fail_closed = fail_closed
        self._scan_timeout = scan_timeout
        self._record_input = record_input
        self._shadow = shadow
        self._cost = ScanCost()

    @property
    def scans(self) -> bool:
        """Whether a request's judgement runs any scanner (admission bounds only that work)."""
        return bool(self._scanners)

    def expected_scan(self, ctx: RequestContext, exchange: Exchange) -> tuple[int, float | None]:
        """(new characters, the seconds their scan is expected to take, None when not known) of a request."""
        if not self._scanners:
            return 0, None
        new_chars = self._cost.new_chars(exchange.segments)
        return new_chars, self._cost.expected_s(_tenant(ctx), new_chars)

    def shadowed(self, decision: Decision) -> bool:
        """A policy's decision that would change traffic, in shadow mode or marked `shadow`: audited, not applied.
        Wardgate's own fail-closed decisions (engine or scanner failure, unparsed bodies) are always applied."""
        return decision.source == "policy" and (self._shadow or decision.shadow) and decision.changes_traffic

    async def judge(
        self,
        ctx: RequestContext,
        phase: Phase,
        exchange: Exchange,
        *,
        has_body: bool,
        extra: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """`extra` joins the policy input (a tool call: `tool_call`, `turn`)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        sent, exchange = exchange, _as_the_caller_reads_it(ctx, phase, exchange)
        findings, scan_error = await self._scan(ctx, exchange)
        timings["scan_ms"] = _ms(time.perf_counter() - started)
        if phase == "request":
            ctx.turn_findings = [finding.to_dict() for finding in findings]

        policy_input = {**self._input(ctx, phase, exchange, findings), **(extra or {})}
        started = time.perf_counter()
        if scan_error is not None and phase in self._fail_closed.scanner_error:
            decision = self._scan_failed(scan_error)
        else:
            decision = await self._decide(phase, policy_input)
        timings["policy_ms"] = _ms(time.perf_counter() - started)
        shadowed = self.shadowed(decision)
        applied = _PASS if shadowed else decision

        if applied.allow and phase == "request" and has_body and not exchange.parsed and self._fail_closed.unparsed:
            decision = applied = Decision.deny(
                "unparsed_request", "this endpoint's body cannot be inspected and fail_closed.unparsed is set",
                source="fail_closed",
            )  # fmt: skip
            shadowed = False
        rewrites = self._rewrites(ctx, phase, sent, exchange, findings, applied) if applied.allow else {}
        timings["total_ms"] = _ms(time.perf_counter() - ctx.started)
        self._record(
            ctx, phase, exchange, findings, decision, rewrites, policy_input, timings, scan_error, enforced=not shadowed
        )
        return Verdict(applied, findings, rewrites)

    async def judge_frame(self, ctx: RequestContext, phase: Phase, exchange: Exchange) -> Verdict:
        """`judge` for one frame of a long-lived session: audited only when it is denied or rewritten, so a
        socket's thousands of clean frames do not each write an event (its upgrade was audited as a request)."""
        started = time.perf_counter()
        sent, exchange = exchange, _as_the_caller_reads_it(ctx, phase, exchange)
        findings, scan_error = await self._scan(ctx, exchange)
        timings = {"scan_ms": _ms(time.perf_counter() - started)}
        policy_input = self._input(ctx, phase, exchange, findings)
        if scan_error is not None and phase in self._fail_closed.scanner_error:
            decision = self._scan_failed(scan_error)
        else:
            decision = await self._decide(phase, policy_input)
        rewrites = self._rewrites(ctx, phase, sent, exchange, findings, decision) if decision.allow else {}
        if not decision.allow or rewrites:
            timings["total_ms"] = _ms(time.perf_counter() - ctx.started)
            self._record(ctx, phase, exchange, findings, decision, rewrites, policy_input, timings, scan_error)
        return Verdict(decision, findings, rewrites)

    async def precheck(self, ctx: RequestContext, exchange: Exchange, extra: Mapping[str, Any]) -> Verdict | None:
        """The policy on what is known before any scan (who, where, how much): a deny is audited and returned, since
        no finding could turn it into an allow; None lets the scan go on (nothing is recorded then)."""
        started = time.perf_counter()
        policy_input = {**self._input(ctx, "request", exchange, []), **extra}
        decision = await self._decide("request", policy_input)
        if decision.allow or self.shadowed(decision):  # a shadowed deny is audited once, by the full judgement
            return None
        timings = {"policy_ms": _ms(time.perf_counter() - started), "total_ms": _ms(time.perf_counter() - ctx.started)}
        self._record(ctx, "request", exchange, [], decision, {}, policy_input, timings, None)
        return Verdict(decision, [], {})

    async def judge_tool_call(self, ctx: RequestContext, exchange: Exchange, call: ToolCall, source: str) -> Verdict:
        """Phase `tool_call`: the policy sees the tool, its parsed arguments, their findings and the turn's."""
        # Role `tool`: the arguments are scored like any text a tool passes along (the injection classifier reads it).
        arguments = Exchange(exchange.provider, exchange.endpoint, exchange.model, exchange.stream,
                             [Segment("tool", "tool_call", call.arguments, ())], exchange.tools)  # fmt: skip
        return await self.judge(ctx, "tool_call", arguments, has_body=True, extra=_tool_call_input(ctx, call, source))

    def _rewrites(
        self,
        ctx: RequestContext,
        phase: Phase,
        sent: Exchange,
        judged: Exchange,
        findings: Sequence[Finding],
        decision: Decision,
    ) -> dict[JsonPath, str]:
        """Masked spans of the judged texts; where those differ from what was sent (this flow's placeholders turned
        back into the caller's values, in an answer), the judged text replaces the sent one."""
        segments = judged.segments
        # An object key cannot be rewritten (one the policy masks refuses the message): a score under its scanner's
        # line there (an injection score every key now gets) is no reason to.
        findings = [f for f in findings if f.reaches_threshold or KEY_MARK not in segments[f.segment].path]
        rewrites = self._masker.rewrite(
            segments, findings, decision.masks, ctx.vault, placeholders=phase == "request", redacted=decision.redacts
        )
        if decision.annotate:
            rewrites = annotated(segments, findings, decision.annotates, rewrites)
        if judged is not sent:
            for before, after in zip(sent.segments, segments, strict=True):
                if (text := rewrites.get(after.path, after.text)) != before.text:
                    rewrites[after.path] = text
        return rewrites

    def refuse(self, ctx: RequestContext, phase: Phase, decision: Decision) -> None:
        """Audit a request refused before it could be judged (malformed, too large, internal fault)."""
        exchange = Exchange(ctx.provider, "unparsed", None, False, [])
        timings = {"total_ms": _ms(time.perf_counter() - ctx.started)}
        self._record(ctx, phase, exchange, [], decision, {}, None, timings, None)

    def refuse_unread(self, status: int, code: str) -> str:
        """Audit a refusal of a request that was never read (mitmproxy's own answer to a malformed one): no method,
        path or identity is known, and none of its bytes are recorded. Returns the decision id."""
        ctx = RequestContext(method="", host="", path="", provider="openai", identity={})
        message = "the proxy refused a request it could not read as HTTP"
        self.refuse(ctx, "request", Decision.deny(code, message, status=status, source="fail_closed"))
        return ctx.decision_id

    async def _scan(self, ctx: RequestContext, exchange: Exchange) -> tuple[list[Finding], str | None]:
        if not exchange.segments or not self._scanners:
            return [], None
        segments = _scannable(exchange.segments)
        calls = [self._traced_scan(scanner, segments) for scanner in self._scanners]
        new_chars, started = self._cost.new_chars(exchange.segments), time.perf_counter()
        try:
            results = await asyncio.wait_for(asyncio.gather(*calls), self._scan_timeout)
        except TimeoutError:
            elapsed = time.perf_counter() - started
            self._cost.observe(_tenant(ctx), exchange.segments, new_chars, elapsed, completed=False)
            return [], f"scanners did not finish within {self._scan_timeout * 1000:.0f} ms"
        except ScannerError as exc:
            return [], str(exc)
        except Exception as exc:  # a model or library fault is a scan error too: the configured fail mode applies
            logger.exception("a scanner failed")
            return [], f"a scanner failed: {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        self._cost.observe(_tenant(ctx), exchange.segments, new_chars, elapsed, completed=True)
        return [finding for found in results for finding in found], None

    @staticmethod
    async def _traced_scan(scanner: Scanner, segments: Sequence[Segment]) -> list[Finding]:
        with inner_span(f"wardgate.scan {scanner.name}") as span:
            found = await scanner.scan(segments)
            span.set_attribute("wardgate.findings", len(found))
            return found

    async def _decide(self, phase: Phase, policy_input: Mapping[str, Any]) -> Decision:
        with inner_span("wardgate.policy", attributes={"wardgate.phase": phase}) as span:
            try:
                decision = await self._engine.evaluate(scannable_value(policy_input))
            except PolicyError as exc:
                decision = self._policy_failed(phase, exc)
            span.set_attributes({"wardgate.allow": decision.allow, "wardgate.code": decision.code})
            return decision

    def _policy_failed(self, phase: Phase, exc: PolicyError) -> Decision:
        logger.warning("the policy engine failed in the %s phase: %s", phase, exc)  # the operator's to see
        if phase in self._fail_closed.policy_error:
            return Decision.deny("policy_engine_error", str(exc), status=503, source="fail_closed")
        reason = Reason(code="policy_engine_error", message=str(exc))
        return Decision(allow=True, status=200, reasons=[reason], source="fail_open")

    @staticmethod
    def _scan_failed(error: str) -> Decision:
        return Decision.deny("scanner_error", error, status=503, source="fail_closed")

    # --- streams: mitmproxy's stream callable is synchronous, so these run on the caller's thread ---------------

    @property
    def scan_timeout(self) -> float:
        """The scanners' budget: per phase here, per judgement on a worker thread (scanners/deadline.py)."""
        return self._scan_timeout

    def scan_blocking(self, segments: Sequence[Segment], *, tool: bool) -> tuple[list[Finding], str | None]:
        """The sync scanners' findings (tool-call arguments and tool results get the tool scanners too), each
        scanner started only while the judgement's budget lasts."""
        scanners = [*self._stream_scanners, *(self._tool_scanners if tool else ())]
        readable = _scannable(segments)
        found: list[Finding] = []  # kept when a later scanner fails: a phase configured fail-open still masks them
        try:
            for scanner in scanners:
                deadline.check(scanner.name)
                found += scanner.scan_sync(readable)
        except ScannerError as exc:
            return found, str(exc)
        except Exception as exc:
            logger.exception("a stream scanner failed")
            return found, f"a scanner failed: {type(exc).__name__}: {exc}"
        return found, None

    def judge_blocking(self, ctx: RequestContext, phase: Phase, exchange: Exchange) -> Verdict:
        """`judge` on the caller's thread, with the sync scanners: for messages inside a stream (MCP over SSE)."""
        started = time.perf_counter()
        sent, exchange = exchange, _as_the_caller_reads_it(ctx, phase, exchange)
        findings, scan_error = self.scan_blocking(exchange.segments, tool=True)
        timings = {"scan_ms": _ms(time.perf_counter() - started)}
        policy_input = self._input(ctx, phase, exchange, findings)
        started = time.perf_counter()
        decision = self._evaluate_blocking(phase, policy_input, scan_error)
        timings["policy_ms"] = _ms(time.perf_counter() - started)
        shadowed = self.shadowed(decision)
        applied = _PASS if shadowed else decision
        rewrites = self._rewrites(ctx, phase, sent, exchange, findings, applied) if applied.allow else {}
        timings["total_ms"] = _ms(time.perf_counter() - ctx.started)
        self._record(
            ctx, phase, exchange, findings, decision, rewrites, policy_input, timings, scan_error, enforced=not shadowed
        )
        return Verdict(applied, findings, rewrites)

    def decide_blocking(
        self,
        ctx: RequestContext,
        exchange: Exchange,
        findings: Sequence[Finding],
        scan_error: str | None,
        *,
        tool_call: ToolCall | None = None,
    ) -> tuple[Decision, dict[str, Any]]:
        """A stream window's decision (phase response, or tool_call for a streamed call), fail-closed rules applied."""
        phase: Phase = "tool_call" if tool_call is not None else "response"
        policy_input = self._input(ctx, phase, exchange, findings)
        if tool_call is not None:
            policy_input |= _tool_call_input(ctx, tool_call, "llm")
        return self._evaluate_blocking(phase, policy_input, scan_error), policy_input

    def _evaluate_blocking(self, phase: Phase, policy_input: Mapping[str, Any], scan_error: str | None) -> Decision:
        """The policy on this thread, the fail-closed rules for scanner and engine errors applied."""
        if scan_error is not None and phase in self._fail_closed.scanner_error:
            return self._scan_failed(scan_error)
        try:
            return self._engine.evaluate_blocking(scannable_value(policy_input))
        except PolicyError as exc:
            return self._policy_failed(phase, exc)

    def mask_window(self, text: str, findings: Sequence[Finding], decision: Decision, vault: Vault) -> str:
        segment = Segment("assistant", "response", text, ())
        return self._masker.rewrite([segment], findings, decision.masks, vault, placeholders=False).get((), text)

    def record_stream(
        self,
        ctx: RequestContext,
        exchange: Exchange,
        findings: Sequence[Finding],
        decision: Decision,
        policy_input: Mapping[str, Any] | None,
        stream: Mapping[str, Any],
        *,
        enforced: bool = True,
    ) -> None:
        """The one audit event of a response stream, when it ends or is stopped."""
        timings = {"total_ms": _ms(time.perf_counter() - ctx.started)}
        self._record(
            ctx, "response", exchange, findings, decision, {}, policy_input, timings, None, stream=stream,
            enforced=enforced,
        )  # fmt: skip

    @staticmethod
    def _input(ctx: RequestContext, phase: Phase, exchange: Exchange, findings: Sequence[Finding]) -> dict[str, Any]:
        return {
            "phase": phase,
            "identity": dict(ctx.identity),
            "request": {
                **ctx.as_input(),
                "provider": exchange.provider,
                "endpoint": exchange.endpoint,
                "parsed": exchange.parsed,
                "model": exchange.model,
                "stream": exchange.stream,
                "tools": list(exchange.tools),
                "segments": [_segment_input(s) for s in exchange.segments],
            },
            "findings": [finding.to_dict() for finding in findings],
            "now": time.time_ns(),
        }

    def _record(
        self,
        ctx: RequestContext,
        phase: Phase,
        exchange: Exchange,
        findings: Sequence[Finding],
        decision: Decision,
        rewrites: Mapping[JsonPath, str],
        policy_input: Mapping[str, Any] | None,
        timings: Mapping[str, float],
        scan_error: str | None,
        *,
        stream: Mapping[str, Any] | None = None,
        enforced: bool = True,
    ) -> None:
        """`enforced`: False for a shadowed decision (recorded as decided; traffic passed unchanged)."""
        # What `wardgate_findings_total` counts; every scored finding stays in `findings` with its score.
        counts: dict[str, int] = {}
        for finding in findings:
            if finding.reaches_threshold:
                counts[finding.kind] = counts.get(finding.kind, 0) + 1
        input_hash = hashlib.sha256(canonical_json(policy_input).encode()).hexdigest() if policy_input else None
        recorded = recorded_input(policy_input) if self._record_input and policy_input else None
        code = decision.code if enforced else f"{decision.code} (shadow)"
        # A placeholder's answer: the access log keeps the request's refusal, and what the answer met if refused.
        ctx.decision = code if not ctx.placeholder else ctx.decision if decision.allow else f"{ctx.decision}, {code}"
        placeholder = ctx.placeholder or (phase == "request" and ctx.answered_in_session(decision))
        ctx.found.add(exchange.segments, findings)
        found = ctx.found  # the free fields below quote what callers and upstreams chose
        self._audit.record(
            "decision",
            decision_id=ctx.decision_id,
            trace_id=ctx.trace_id,
            span_id=ctx.span_id,
            phase=phase,
            path=DECISION_PATH.replace(".", "/"),
            identity=dict(ctx.identity),
            # The path is recorded by route words already, which a name NER found in the prompt (`Chat`) would blank.
            request={"method": ctx.method, "host": recorded_host(ctx.host), "path": ctx.path}
            | ({"placeholder": True} if placeholder else {}),
            provider=exchange.provider,
            endpoint=exchange.endpoint,
            model=found.identifier(exchange.model),
            stream=exchange.stream,
            findings=[finding.to_dict() for finding in findings],
            finding_counts=counts,
            scan_error=scan_error,
            result={
                "allow": decision.allow,
                "status": decision.status,
                "code": decision.code,
                "reasons": [
                    found.redacted(reason.model_dump() | {"message": scrubbed(reason.message)})
                    for reason in decision.reasons
                ],
                "mask": decision.mask,
                "source": decision.source,
            },
            enforced=enforced,
            masked=[recorded_json_path(path) for path in rewrites],
            tool=_recorded_tool(_tool_summary(policy_input), found),
            bundle_revision=self._engine.revision,
            input_hash=input_hash,
            input=_recorded_input(recorded.input, found) if recorded else None,
            input_omitted=recorded.omitted if recorded else None,
            metrics=dict(timings),
            streamed=dict(stream) if stream is not None else None,
        )


def _tenant(ctx: RequestContext) -> str:
    return str(ctx.identity.get("tenant"))


def _as_the_caller_reads_it(ctx: RequestContext, phase: Phase, exchange: Exchange) -> Exchange:
    """An answer with this flow's placeholders turned back into the caller's values: judged as it will be read, so
    a restored value is seen where it lands (a link that would carry it off, a key it completes)."""
    if phase not in ("response", "tool_result") or not len(ctx.vault):
        return exchange
    segments = [dataclasses.replace(segment, text=ctx.vault.restore(segment.text)) for segment in exchange.segments]
    if all(after.text == before.text for before, after in zip(exchange.segments, segments, strict=True)):
        return exchange
    return dataclasses.replace(exchange, segments=segments)


def _segment_input(segment: Segment) -> dict[str, Any]:
    """What the policy knows of a segment: never its text."""
    facts: dict[str, Any] = {"role": segment.role, "source": segment.source, "chars": len(segment.text)}
    if segment.opaque_media is not None:
        facts["opaque_media"] = segment.opaque_media
    return facts
