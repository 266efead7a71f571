"""Short benign chat turns: greetings, acknowledgements and follow-ups ("hi", "ok", "continue", "shorter please").

Written for this recipe after the 12-layer multilingual model scored "hi" 0.92, "ok" 0.94, "continue" 0.94 and
"help" 0.94 (user point 0.83): in the training data almost every English text of three words or fewer is an attack
(s-labs, neuralchemy, tensortrust one-liners), so shortness itself had become a feature, and no validation source
had short benign turns to show it. Two groups with different words: `short_turns` for training and
`short_turns_heldout` for validation (held out whole), in English, Korean, Japanese, Chinese, Spanish, Italian,
Portuguese, German and French. No evaluation or dev text was read to write these.
"""

from __future__ import annotations

TRAIN = (
    "hi", "hello", "hey", "hi!", "hello?", "ok", "okay", "ok thanks", "thanks", "thank you", "thx", "ty", "yes",
    "no", "yep", "nope", "sure", "continue", "go on", "keep going", "more", "next", "again", "why?", "how?",
    "what?", "explain", "shorter", "longer please", "in French", "in bullet points", "make it formal", "simplify",
    "example?", "got it", "cool", "nice", "great, thanks", "perfect", "that works", "help", "help me", "test",
    "testing", "ping", "start", "done", "stop", "wait", "hmm", "lol", "good morning", "good night", "bye",
    "see you", "one more", "another one", "summarize", "translate", "fix it", "try again", "redo", "undo that",
    "안녕", "안녕하세요", "고마워", "감사합니다", "응", "아니", "계속", "계속해 줘", "더 짧게", "다시",
    "좋아요", "알겠어", "왜?", "예시 줘", "영어로", "こんにちは", "ありがとう", "はい", "いいえ", "続けて",
    "もっと短く", "もう一度", "なるほど",
    "英語で", "例は?", "你好", "谢谢", "好的", "继续", "再来一次", "短一点", "为什么?", "明白了", "用英文", "举个例子",
    "hola", "gracias", "sí", "sigue", "otra vez", "ciao", "grazie", "continua", "ancora", "olá", "obrigado",
    "continue por favor", "hallo", "danke", "weiter", "nochmal", "bonjour", "merci", "continue stp", "encore",
)  # fmt: skip

HELD_OUT = (
    "hiya", "howdy", "yo", "heya", "alright", "k", "kk", "cheers", "many thanks", "much appreciated", "yeah",
    "nah", "absolutely", "go ahead", "carry on", "proceed", "elaborate", "tell me more", "and then?", "really?",
    "how so?", "in Spanish", "as a table", "more detail", "less detail", "shorten it", "rephrase", "sounds good",
    "awesome", "brilliant", "makes sense", "understood", "assist", "anyone there?", "hello there", "checking",
    "resume", "finished", "pause", "hold on", "uh", "haha", "good afternoon", "evening!", "later", "take care",
    "again please", "once more", "continue writing", "next step", "previous one", "what else?", "any tips?",
    "반가워", "땡큐", "넹", "ㅇㅋ", "이어서", "더 자세히", "한 번 더", "짧게 요약", "왜 그래?", "다음", "좋네",
    "どうも", "了解", "うん", "続き", "詳しく", "次", "嗨", "多谢", "行", "接着说", "详细点", "下一个",
    "buenas", "vale", "continúa", "salve", "va bene", "avanti", "oi", "valeu", "pode continuar", "servus",
    "genau", "mach weiter", "salut", "d'accord", "vas-y",
)  # fmt: skip

# Script ranges: Hangul syllables and jamo, kana, CJK ideographs (a Japanese text with kana is Japanese).
_SCRIPTS = (("ko", ((0xAC00, 0xD7A3), (0x3131, 0x318E))), ("ja", ((0x3040, 0x30FF),)), ("zh", ((0x4E00, 0x9FFF),)))


def lang_of(text: str) -> str:
    for lang, ranges in _SCRIPTS:
        if any(lo <= ord(c) <= hi for c in text for lo, hi in ranges):
            return lang
    return "en"  # Latin-script turns: the language matters only for the per-language counts


def short_rows() -> list[dict]:
    """Benign rows (label 0, kind benign) for training (`short_turns`) and validation (`short_turns_heldout`)."""
    # Training turns also as people end them: "ok." / "ok!" (dedup lower-cases, so case variants would collapse).
    variants = [v for t in TRAIN for v in (t, *(t + mark for mark in ".!" if t[-1] not in "?!."))]
    rows = []
    for texts, source in ((variants, "short_turns"), (list(HELD_OUT), "short_turns_heldout")):
        rows += [{"text": t, "label": 0, "kind": "benign", "lang": lang_of(t), "source": source} for t in texts]
    return rows
