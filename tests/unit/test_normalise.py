"""The shared normalisation: what it decodes, where spans map back to, and what it costs on hostile input."""

import sys
import time
import unicodedata

import pytest

from wardgate.scanners.injection import normalise as fast_normalise
from wardgate.scanners.normalise import _COMPOSING_STARTERS, decoded_layers, escapes_decoded, normalise


def test_every_character_that_composes_with_the_one_before_is_known():
    """The composing class-0 characters are written out by hand; the interpreter's table must hold no other."""
    found = set()
    for code in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if not decomposition or decomposition.startswith("<") or len(parts := decomposition.split()) != 2:
            continue
        second = chr(int(parts[1], 16))
        if unicodedata.normalize("NFC", chr(int(parts[0], 16)) + second) == chr(code):
            found.add(ord(second))
    assert {code for code in found if unicodedata.combining(chr(code)) == 0} == set(_COMPOSING_STARTERS)


@pytest.mark.parametrize(
    "text",
    [
        "ㅇㅣㅈㅓㄴㅇㅢ ㅁㅗㄷㅡㄴ ㅈㅣㅅㅣㄹㅡㄹ",  # Hangul spelled letter by letter
        "a" + "\u0301\u200b\u0316" * 40,  # marks past the limit, split by hidden characters
        "a" + "\u0f73" * 40,  # one character that NFKC writes as two marks
        "\u0b47\u0b3e \u0d46\u0d3e \u0dd9\u0dcf",  # Oriya, Malayalam, Sinhala vowels written in two parts
        "\u1100\u200b\u1161 e\u200b\u0301 ｉ\u0301 a\u2800b \U000e0041bc",
        "a" + "\u1161" * 29 + "\u0301\u0316",  # a long run of joining characters, then marks to reorder
        "\ufdfa\ufdfb \u2474",  # NFKC writes the first two as 18 and 8 characters
    ],
    ids=[
        "spelled-hangul",
        "split-marks",
        "expanding-marks",
        "split-vowels",
        "hidden-between",
        "long-cluster",
        "long-expansions",
    ],
)
def test_the_scanners_fast_path_reads_as_the_shared_pass(text):
    assert fast_normalise(text)[0] == normalise(text, fold_confusables=False).text


def test_percent_escapes_are_read_as_the_characters_they_spell():
    """Each decoded character goes through every step (hidden removed, NFKC), and a byte that is not UTF-8 spoils
    only itself (it was the whole run, read as Latin-1)."""
    read = normalise("x%C3%A9%FFy%F3%A0%81%81z%E2%80%8Bw%EF%BD%89")
    assert read.text == "xéÿyzwi"
    assert read.hidden == 2


def test_a_character_that_nfkc_writes_long_stays_as_written():
    """U+FDFA is 18 characters in NFKC: a text of them would grow 18-fold past its scan budget."""
    assert normalise("\ufdfa" * 1000).text == "\ufdfa" * 1000
    assert normalise("\u2474 \ufb01").text == "(1) fi"


def test_an_empty_span_at_the_end_maps_to_the_end():
    assert normalise("a%41").span(2, 2) == (4, 4)
    assert normalise("").span(0, 0) == (0, 0)


def test_a_lone_surrogate_does_not_stop_the_decoding():
    assert decoded_layers("\ud800 QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=") == [(2, 38, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")]


def test_a_span_ending_on_an_escaped_character_covers_its_escapes():
    text = "key=%E2%80%8Bs3cr3t%C3%A9 rest"
    read = normalise(text)
    start = read.text.index("s3cr3t")
    assert text[slice(*read.span(start, start + 7))] == "s3cr3t%C3%A9"


def test_one_escape_that_is_no_character_spoils_only_itself():
    escaped = "\\u0049\\u0067\\U00110000\\u006e\\u006f\\ud83d\\ude00"
    assert escapes_decoded(escaped) == "Ig\\U00110000no\U0001f600"


@pytest.mark.parametrize(
    "text",
    [
        "a" + "\u0f73\u0f75" * 16_000,  # 3.9 s before
        "a" + "%CC%81" * 20_000,
        "a" + "\u0301\u200b\u0316" * 20_000,  # 2.4 s in the fast path before
        "a" + "\u1161" * 100_000 + "\u0301" * 40,
    ],
    ids=["expanding-marks", "escaped-marks", "split-marks", "long-cluster"],
)
def test_runs_of_marks_cost_linear_time(text):
    started = time.perf_counter()
    normalise(text)
    fast_normalise(text)
    assert time.perf_counter() - started < 1.0


def test_a_run_of_backslashes_costs_linear_time():
    started = time.perf_counter()
    escapes_decoded("\\" * 40_000 + "\\u0041" * 4)
    assert time.perf_counter() - started < 1.0  # 30 s before
