"""Long benign prose, and the same prose with one attack inside: what a user pastes or writes at length.

Written after the multilingual model, routed to Korean text in the proxy, refused 35 of 40 ordinary 1,000-character
Korean prompts and most texts of benign Korean chat sentences joined (each sentence alone ~0.05): its Korean benign
data were chat turns of 12 characters median, so length itself had become a sign of an attack. Each row here joins
3 to 25 benign sentences of one language (paragraph breaks sometimes, a benign task over the text above at the end
half the time); its twin has one attack sentence of that language put in at a random place (label 1: the technique
is there, however much prose surrounds it). Training joins training rows' sentences (`long_prose`); validation
joins validation rows' sentences (`long_prose_heldout`, held out whole: Korean chatbot turns, hh-rlhf first turns,
the held-out CJK hard negatives and attacks) with other tasks. Seeded. The benchmark's Korean prompts
(bench/proxy_overhead.py) were not used or imitated: they stay an outside measure.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable

_LANGS = {"ko": 0.5, "en": 0.2, "ja": 0.15, "zh": 0.15}  # Korean first: the product's first users write it
_END = ".!?。！？"

# Benign tasks over the text above: summarise, translate, shorten, proofread, list, explain. Two disjoint sets.
_TASKS = {
    "ko": ["이 내용을 세 줄로 정리해 줄래?", "위 글을 영어로 번역해 주세요.", "맞춤법이 틀린 곳이 있으면 고쳐 주세요.",
           "핵심만 뽑아서 표로 만들어 줘.", "이 글의 어조를 좀 더 부드럽게 바꿔 주세요.", "읽는 사람이 궁금해할 만한 질문 다섯 개를 뽑아 줘."],
    "en": ["Can you turn this into three bullet points?", "Please translate the above into Korean.",
           "Fix any typos you find, please.", "What is the main point here?", "Make this sound friendlier."],
    "ja": ["この内容を三行でまとめてください。", "上の文章を英語に訳してください。", "誤字があれば直してください。"],
    "zh": ["请把上面的内容总结成三点。", "请把这段话翻译成英文。", "如果有错别字请帮我改一下。"],
}  # fmt: skip
_TASKS_HELD_OUT = {
    "ko": ["위 내용을 간단히 요약해 주세요.", "이 메모를 일본어로 옮겨 줄 수 있어?", "문장을 더 짧게 다듬어 줘.",
           "이 중에서 가장 중요한 항목이 뭔지 알려 주세요."],
    "en": ["Summarise the notes above in two sentences.", "Could you shorten this a bit?"],
    "ja": ["上のメモを短く要約してください。", "この文章をもっと丁寧にしてください。"],
    "zh": ["请用两句话概括以上内容。", "这段文字能改得更简洁一些吗？"],
}  # fmt: skip


def _sentence(text: str, lang: str) -> str:
    text = " ".join(text.split())
    if not text or text[-1] in _END:
        return text
    return text + ("。" if lang in ("ja", "zh") else ".")


def _join(sentences: list[str], lang: str, rng: random.Random) -> str:
    glue = "" if lang in ("ja", "zh") else " "
    parts: list[str] = []
    for index, sentence in enumerate(sentences):
        if index and rng.random() < 0.15:
            parts.append("\n\n" if rng.random() < 0.5 else "\n")
        elif index:
            parts.append(glue)
        parts.append(sentence)
    return "".join(parts)


def _pairs(benign: dict[str, list[str]], attacks: dict[str, list[str]], tasks: dict[str, list[str]], count: int,
           source: str, rng: random.Random) -> Iterable[dict]:  # fmt: skip
    langs = [lang for lang in _LANGS if len(benign.get(lang, ())) >= 20 and attacks.get(lang)]
    weights = [_LANGS[lang] for lang in langs]
    for _ in range(count):
        lang = rng.choices(langs, weights)[0]
        n = round(math.exp(rng.uniform(math.log(3), math.log(25))))
        sentences = [_sentence(text, lang) for text in rng.sample(benign[lang], min(n, len(benign[lang])))]
        if rng.random() < 0.5:
            sentences.append(rng.choice(tasks[lang]))
        attacked = list(sentences)
        attacked.insert(rng.randrange(len(attacked) + 1), _sentence(rng.choice(attacks[lang]), lang))
        for text, label, kind in ((_join(sentences, lang, rng), 0, "benign"), (_join(attacked, lang, rng), 1, "direct")):
            yield {"text": text, "label": label, "kind": kind, "lang": lang, "source": source, "role": "user"}


def long_prose_rows(rows: list[dict], held_out: Callable[[str], bool], train: int, held: int, seed: int) -> list[dict]:
    """`train` pairs from the training rows' sentences (`long_prose`), `held` from the validation rows'."""
    pools: dict[tuple[bool, int], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        text, lang = row["text"], row.get("lang", "en")
        if lang not in _LANGS or not 4 <= len(text) <= 240 or "\n" in text.strip():
            continue
        if row["label"] == 0 and row["kind"] in ("benign", "hard_negative", "harmful_request"):
            pools[(held_out(row["source"]), 0)][lang].append(text)
        elif row["label"] == 1 and row["kind"] in ("direct", "jailbreak"):
            pools[(held_out(row["source"]), 1)][lang].append(text)
    out = list(_pairs(pools[(False, 0)], pools[(False, 1)], _TASKS, train, "long_prose", random.Random(f"{seed}-t")))
    out += _pairs(pools[(True, 0)], pools[(True, 1)], _TASKS_HELD_OUT, held, "long_prose_heldout",
                  random.Random(f"{seed}-h"))  # fmt: skip
    return out
