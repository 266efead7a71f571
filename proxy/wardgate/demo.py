"""`wardgate demo`: a fake OpenAI upstream, Wardgate in front of it, and what it stops."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

from wardgate.audit import verify_files
from wardgate.testing import FakeUpstream, ProxyProcess

__all__ = ["run_demo"]

# Shaped like a real AWS access key id (AWS's documentation example, ...EXAMPLE, is allow-listed).
LEAKED_KEY = "AKIAZ3MSJV4WWNKWW5FG"


def _say(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def _audit_line(event: dict[str, object]) -> str:
    result = event["result"]
    assert isinstance(result, dict)
    verdict = "ALLOW" if result["allow"] else f"DENY {result['status']} {result['code']}"
    found = ", ".join(f"{kind} x{count}" for kind, count in dict(event["finding_counts"]).items()) or "no findings"  # type: ignore[call-overload]
    return (
        f"  seq={event['seq']} {event['phase']:<8} {verdict:<30} {found:<32} "
        f"hash={str(event['hash'])[:12]}… prev={str(event['prev_hash'])[:12]}…"
    )


def run_demo(policies: Path = Path("policies")) -> int:
    try:
        import openai
    except ImportError:  # pragma: no cover - the demo needs the test extra
        print("the demo drives the real openai SDK: pip install 'wardgate[test]'")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="wardgate-demo-"))
    audit_file = workdir / "audit.jsonl"
    with FakeUpstream() as upstream:
        config = {
            "upstream": upstream.url,
            "policy": {"dir": str(policies.resolve()), "watch": False},
            "audit": {"file": str(audit_file)},
        }
        with ProxyProcess(config, workdir) as proxy:
            _say(f"Wardgate on {proxy.url} in front of a fake OpenAI API on {upstream.url}")
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-demo", max_retries=0)

            _say("1. A clean request is answered")
            question = "Summarise our Q3 roadmap in one line."
            print(f"  user: {question}")
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )
            print(f"  assistant (fake upstream echoes): {reply.choices[0].message.content}")

            _say("2. A prompt that leaks an AWS access key is blocked before it leaves")
            leaky = f"Why does `aws s3 ls` fail with key {LEAKED_KEY}?"
            print(f"  user: {leaky}")
            received_before = len(upstream.received)
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": leaky}])
                print("  !! the request was forwarded: this should not happen")
                return 1
            except openai.PermissionDeniedError as error:
                print(f"  openai.PermissionDeniedError {error.status_code} code={error.code}")
                print(textwrap.indent(textwrap.fill(error.message, 100), "    "))
            print(f"  requests that reached the upstream: {len(upstream.received) - received_before}")

    _say(f"3. The audit trail ({audit_file}): one hash-chained event per decision, no secret in it")
    events = [json.loads(line) for line in audit_file.read_text().splitlines()]
    for event in events:
        print(_audit_line(event))
    print(f"  leaked key present in the audit file: {LEAKED_KEY in audit_file.read_text()}")

    _say(f"4. wardgate audit verify {audit_file}")
    result = verify_files([audit_file])
    print(f"  ok {result.events} events" if result.ok else f"  BROKEN: {result.broken}")
    return 0 if result.ok else 1
