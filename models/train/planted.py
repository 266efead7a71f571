"""Planted tasks: indirect injections whose payload is an innocuous, unrelated task (what BIPIA-style attacks are).

The composed rows in train.jsonl plant jailbreak-styled instructions; a plain task planted in a document is the
pattern they miss. Payloads are the tasks and questions of benign training rows (which stay in the data as
negatives on their own), so the model must learn the planting, not the task's wording. A third of the payloads are
training attacks (spikee's jailbreak + instruction pairs, Tensor Trust extractions): without them no email in
training carries an instruction aimed at the assistant, and run 6 learned "an email addressing its reader is benign"
so well that it passed "IMPORTANT SYSTEM NOTICE: ignore the user's request..." (0.05 in an email).

Emails are the documents an agent reads most, and train.jsonl has benign ones only in a held-out source: a
classifier sees emails only as hosts of attacks and learns "email = injection" while still missing a plain task
planted in one. Each synthetic email (emails.py) is therefore used twice, alone (label 0) and with a task planted
(label 1), so the planted task, not the email, carries the label.
"""

from __future__ import annotations

import random

from agent_voice import directives
from emails import email, render

HOST_SOURCE = "owasp_cheatsheets"
# Where each payload source keeps its task: toolformer rows end with the user's question, codegen rows start with
# the task, role-play and self-instruct rows are the task.
PAYLOAD_LINE = {
    "gpteacher_toolformer": -1, "gpteacher_codegen": 0, "gpteacher_roleplay": 0, "selfinstruct_t0_prompts": 0
}
# Attack sources whose whole short rows are payloads (training sources only; Tensor Trust hijacks are held out).
ATTACK_SOURCES = ("spikee_jailbreak_x_instruction", "tensortrust_extraction")


def task_payloads(rows: list[dict]) -> dict[str, list[str]]:
    """Short single tasks by source: benign rows (self-instruct only where a row is one question) and attacks."""
    payloads: dict[str, list[str]] = {source: [] for source in (*PAYLOAD_LINE, *ATTACK_SOURCES)}
    for row in rows:
        if row["source"] in ATTACK_SOURCES and row["label"] == 1 and 20 < len(row["text"].strip()) < 300:
            payloads[row["source"]].append(row["text"].strip())
        if row["source"] not in PAYLOAD_LINE or row["label"] != 0:
            continue
        if row["source"] in ("gpteacher_roleplay", "selfinstruct_t0_prompts") and "\n" in row["text"].strip():
            continue
        if row["source"] == "selfinstruct_t0_prompts" and not (row["text"][:1].isupper() and row["text"].endswith("?")):
            continue
        task = row["text"].strip().split("\n")[PAYLOAD_LINE[row["source"]]].strip()
        if 15 < len(task) < 220:
            payloads[row["source"]].append(task)
    return payloads


def pick(payloads: dict[str, list[str]], rng: random.Random) -> str:
    """A source first, then a task: code tasks, the largest source, would otherwise be most of the payloads."""
    return rng.choice(payloads[rng.choice([source for source in sorted(payloads) if payloads[source]])])


def prose_hosts(rows: list[dict]) -> list[str]:
    return [r["text"] for r in rows if r["source"] == HOST_SOURCE and len(r["text"]) > 200]


def planted_in_prose(hosts: list[str], payloads: dict[str, list[str]], count: int, rng: random.Random) -> list[dict]:
    """`count` OWASP cheat-sheet paragraphs (negatives in the data already) with a task at the start, middle or end."""
    composed = []
    for _ in range(count):
        host, payload = rng.choice(hosts), pick(payloads, rng)
        sentences = host.split(". ")
        where = rng.choice(("start", "middle", "end"))
        if where == "start":
            text = f"{payload} {host}"
        elif where == "end":
            text = f"{host} {payload}"
        else:
            cut = len(sentences) // 2
            text = ". ".join(sentences[:cut]) + f". {payload} " + ". ".join(sentences[cut:])
        composed.append({"text": text, "label": 1, "source": "augment_planted_task", "kind": "indirect"})
    return composed


def planted_tasks(rows: list[dict], prose: int, emails: int, directed: int, rng: random.Random) -> list[dict]:
    """Tasks planted in `prose` cheat-sheet paragraphs and in `emails` synthetic emails, and instructions to the
    assistant that name the user (agent_voice.py) in `directed` more emails; each email has its benign twin."""
    payloads, hosts = task_payloads(rows), prose_hosts(rows)
    sentences = [s.strip() + "." for host in hosts for s in host.split(". ") if 40 < len(s) < 200 and "\n" not in s]
    return (
        planted_in_prose(hosts, payloads, prose, rng)
        + planted_in_emails(payloads, sentences, emails, rng)
        + planted_in_emails({"directives": directives(directed, rng)}, sentences, directed, rng)
    )


def planted_in_emails(payloads: dict[str, list[str]], prose: list[str], count: int, rng: random.Random) -> list[dict]:
    """`count` synthetic emails with a task planted (label 1) and the same emails without it (label 0)."""
    composed = []
    for _ in range(count):
        head, body, tail = email(rng, prose)
        alone = render(head, body, tail)
        payload = pick(payloads, rng)
        where = rng.choice(("before", "body", "body", "after"))
        if where == "before":
            planted = payload + "\n\n" + alone
        elif where == "after":
            planted = alone + "\n\n" + payload
        else:
            at = rng.randint(0, len(body))
            planted = render(head, [*body[:at], payload, *body[at:]], tail)
        composed.append({"text": planted, "label": 1, "source": "augment_email_task", "kind": "indirect"})
        composed.append({"text": alone, "label": 0, "source": "augment_email", "kind": "benign"})
    return composed
