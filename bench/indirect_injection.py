"""Indirect injection through the tool-result path: each BIPIA email arrives as a tool result in a real request.

The OpenAI SDK sends a conversation where the model called `read_email` and the tool returned the email; Wardgate
(default policy, the shipped injection model) either blocks it (403 `prompt_injection`) or forwards it. Recall is
the blocked share. Prints a table and writes JSON.
Usage: python bench/indirect_injection.py [--data ../shared/data/injection/dev/indirect__bipia_email.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import openai

from harness import API_KEY, ROOT, proxy_config, start_upstream
from wardgate.testing import ProxyProcess

DATA = ROOT.parent / "shared" / "data" / "injection" / "dev" / "indirect__bipia_email.jsonl"


def conversation(email: str) -> list[dict[str, object]]:
    call = {"id": "call_1", "type": "function", "function": {"name": "read_email", "arguments": "{}"}}
    return [
        {"role": "user", "content": "Summarise my latest email."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": email},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "indirect_injection.json")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    upstream, upstream_url = start_upstream("--reply", "Here is your summary.")
    workdir, config = proxy_config(upstream_url)
    config["scanners"]["pii"] = {"enabled": False}
    counts = {"blocked": 0, "forwarded": 0, "other": 0}
    per_label: dict[int, dict[str, int]] = {}
    try:
        with ProxyProcess({**config, "audit": {"file": str(workdir / "audit.jsonl")}}, workdir) as proxy:
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=API_KEY, max_retries=0)
            for row in rows:
                try:
                    client.chat.completions.create(model="gpt-4o-mini", messages=conversation(row["text"]))
                    outcome = "forwarded"
                except openai.PermissionDeniedError as error:
                    outcome = "blocked" if error.code == "prompt_injection" else "other"
                counts[outcome] += 1
                per_label.setdefault(int(row["label"]), {"blocked": 0, "forwarded": 0, "other": 0})[outcome] += 1
    finally:
        upstream.terminate()
        upstream.wait()
    attacks = per_label.get(1, {"blocked": 0, "forwarded": 0, "other": 0})
    recall = attacks["blocked"] / max(sum(attacks.values()), 1)
    print(f"{'label':<8} {'blocked':>8} {'forwarded':>10} {'other':>6}")
    for label, row in sorted(per_label.items()):
        print(f"{label:<8} {row['blocked']:>8} {row['forwarded']:>10} {row['other']:>6}")
    print(f"recall on attacks through the tool-result path: {recall:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"file": str(args.data), "per_label": per_label, "recall": round(recall, 4)}, indent=2)
    )


if __name__ == "__main__":
    main()
